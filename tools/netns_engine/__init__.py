"""Docker engines on "other machines" made on this one: a network namespace each, for `nox -s remote_engines`.

Each engine is a second dockerd in a network namespace of its own, reached over a veth
pair at the namespace's own address (tcp://ADDR:2375, and ssh://root@ADDR through an
sshd in the same namespace). Its published ports bind on that address, not on this
machine's loopback, and its containers see none of this machine's processes or folders:
what the plugin meets on a real remote host. Images come from the local engine
(`docker save | docker load`); nothing is pulled. Everything is removed afterwards.
"""
