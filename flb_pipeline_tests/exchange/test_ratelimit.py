from flb_pipeline.exchange.ratelimit import TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_burst_up_to_capacity_then_paced_at_rate():
    time = FakeTime()
    bucket = TokenBucket(20, clock=time.clock, sleep=time.sleep)
    for _ in range(20):
        assert bucket.acquire() == 0.0
    waits = [bucket.acquire() for _ in range(10)]
    assert all(abs(w - 0.05) < 1e-9 for w in waits)
    assert abs(time.now - 0.5) < 1e-9


def test_idle_time_refills_but_not_beyond_capacity():
    time = FakeTime()
    bucket = TokenBucket(10, capacity=5, clock=time.clock, sleep=time.sleep)
    for _ in range(5):
        bucket.acquire()
    time.now += 100
    assert [bucket.acquire() for _ in range(5)] == [0.0] * 5
    assert bucket.acquire() > 0
