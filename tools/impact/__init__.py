"""--stack-impact's proof and figures: the mutant study (`nox -s impact`) and the 30-edit benchmark."""
