"""The Vyper compile is shared by request and worker threads: it must run once, and alone."""

import threading

from chains import compiler


def test_compile_contract_called_by_many_threads_on_a_cold_cache_compiles_once(monkeypatch):
    # given: a cold cache, and every compile counted
    compiler.clear_cache()
    compiles = []
    real_compile_code = compiler.vyper.compile_code

    def counting_compile_code(*args, **kwargs):
        compiles.append(threading.get_ident())
        return real_compile_code(*args, **kwargs)

    monkeypatch.setattr(compiler.vyper, "compile_code", counting_compile_code)
    threads_n = 8
    barrier = threading.Barrier(threads_n, timeout=30)
    results: list = [None] * threads_n

    def call(i: int) -> None:
        barrier.wait()
        try:
            results[i] = compiler.compile_contract("HTLC")
        except Exception as exc:  # vyper's CodegenPanic when two compiles interleave
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(threads_n)]
    # when: they all ask at once
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # then: no error, one compile, the same output for everyone
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert len(compiles) == 1
    assert len({(r.bytecode, r.source_hash, str(r.abi)) for r in results}) == 1


def test_different_contracts_compiled_at_once_do_not_break_each_other():
    # given: a cold cache; two contracts wanted by two threads at the same moment
    compiler.clear_cache()
    names = ["HTLC", "TestToken"] * 3
    barrier = threading.Barrier(len(names), timeout=30)
    results: list = [None] * len(names)

    def call(i: int) -> None:
        barrier.wait()
        try:
            results[i] = compiler.compile_contract(names[i]).bytecode
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(names))]
    # when
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # then: each matches a compile made alone
    assert [type(r) for r in results] == [str] * len(names)
    compiler.clear_cache()
    alone = {n: compiler.compile_contract(n).bytecode for n in set(names)}
    assert results == [alone[n] for n in names]
