"""Not collected on its own: test_health_guard.py copies it into an example project and runs it."""


def test_1_stops_a_service_behind_the_harness_back(stack):
    stack.container("web").stop(timeout=5)


def test_2_runs_on_a_sound_stack_again(service_client):
    assert service_client("web").get("/health").status_code == 200
