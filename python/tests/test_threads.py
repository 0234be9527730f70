"""Convolutions release the GIL: Python threads run while one computes."""

import threading
import time

import lucid
import lucid.nn.functional as F


def test_convolution_releases_the_gil():
    # Calls of a few ms: long enough next to the main thread's ticks that the
    # margin below does not depend on how fast the kernels are.
    x = lucid.random.randn(1, 32, 20, 20, 20)
    w = lucid.random.randn(32, 32, 3, 3, 3)
    F.conv_transpose3d(x, w, stride=2)  # warm up
    start = time.perf_counter()
    F.conv_transpose3d(x, w, stride=2)
    one = time.perf_counter() - start

    calls = max(3, int(0.3 / max(one, 1e-4)))  # about 0.3 s of convolutions
    done = threading.Event()

    def work():
        for _ in range(calls):
            F.conv_transpose3d(x, w, stride=2)
        done.set()

    t = threading.Thread(target=work)
    ticks = 0
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0)
    t.join()
    # The main thread kept running Python while the other computed: with the GIL
    # held through each call it could only run between calls (about `calls` times).
    assert ticks > 20 * calls, (ticks, calls, one)


def test_concurrent_results_equal_serial():
    xs = [lucid.random.randn(1, 4, 6, 6, 6) for _ in range(4)]
    w = lucid.random.randn(4, 3, 3, 3, 3)
    serial = [F.conv_transpose3d(x, w, stride=2).numpy().copy() for x in xs]
    out = [None] * 4

    def run(i):
        out[i] = F.conv_transpose3d(xs[i], w, stride=2).numpy()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(serial, out):
        assert (a == b).all()
