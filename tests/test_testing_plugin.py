"""The pytest plugin: `pytest --rulebook PATH` in any directory; light when unused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
DATA = Path(__file__).parent / "data"


def test_one_item_per_rule_and_property(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--rulebook", str(DATA / "design-example.yaml"),
                                "--rulebook-examples", "2", "--collect-only", "-q")  # fmt: skip
    out = result.stdout.str()
    assert "boundary_exact[unscr-2397-crude-oil]" in out
    assert "satisfiable[unscr-2375-ship-to-ship]" in out
    assert "reachable[unscr-2375-ship-to-ship]" not in out  # caps only
    assert out.count("design-example.yaml::") == 6 * 4 + 4 * 2  # 4 rules, 2 of them caps


def test_runs_and_fails_with_the_counterexample(pytester: pytest.Pytester) -> None:
    rules = pytester.makefile(".yaml", bad="""
        rules:
          - id: never
            kind: prohibition
            citation: test
            match: {all: [{destination: KP}, {destination: CN}]}
    """)  # fmt: skip
    result = pytester.runpytest("--rulebook", str(rules), "--rulebook-examples", "2",
                                "-k", "satisfiable")  # fmt: skip
    result.assert_outcomes(failed=1, deselected=5)
    result.stdout.fnmatch_lines(["*satisfiable: rule never: no event can match*"])


def test_a_rulebook_that_does_not_load_is_a_usage_error(pytester: pytest.Pytester) -> None:
    rules = pytester.makefile(".yaml", broken="rules: [{id: x, kind: cap}]")
    result = pytester.runpytest("--rulebook", str(rules))
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*the rulebook does not load*"])


def test_the_plugin_and_package_load_without_hypothesis() -> None:
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import _compliance_pytestplugin, compliance.testing.plugin\n"
        "try:\n    from compliance.testing import strategies\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install compliance[test]" in out.stdout


def test_without_rulebook_pytest_imports_nothing_of_compliance(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_light="""
        import sys

        def test_light(request):
            assert request.config.getoption("--rulebook") == []  # the plugin is loaded ...
            assert not [m for m in sys.modules if m.split(".")[0] == "compliance"]  # ... light
    """)  # fmt: skip
    # Whether or not the entry point is installed, load the plugin by its module name.
    result = pytester.runpytest_subprocess("-p", "no:compliance", "-p", "_compliance_pytestplugin",
                                           "-p", "no:cacheprovider")  # fmt: skip
    result.assert_outcomes(passed=1)


def test_the_entry_point_is_the_light_module() -> None:
    from importlib.metadata import entry_points

    (plugin,) = [ep for ep in entry_points(group="pytest11") if ep.name == "compliance"]
    assert plugin.value == "_compliance_pytestplugin"


def test_an_unsatisfiable_rule_skips_with_the_reason_and_counts_are_shown(
    pytester: pytest.Pytester,
) -> None:
    rules = pytester.makefile(".yaml", never="""
        rules:
          - id: never
            kind: prohibition
            citation: test
            match: {all: [{destination: IR}, {destination: TR}]}
          - id: kp
            kind: prohibition
            citation: test
            match: {destination: KP}
    """)  # fmt: skip
    result = pytester.runpytest("--rulebook", str(rules), "--rulebook-examples", "3", "-rs",
                                "-k", "not engines_agree")  # fmt: skip
    result.assert_outcomes(failed=1, skipped=4, passed=5)
    out = result.stdout.str()
    assert "InvalidArgument" not in out
    result.stdout.fnmatch_lines([
        "*satisfiable: rule never: no event can match rule never*",
        "*rulebook properties: what each checked*",
        "*never.yaml::order_independent[[]kp[]]: 3 examples, * exercised the rule, * with a "
        "finding of it",
        "SKIPPED [[]1[]] *: order_independent: rule never is unsatisfiable, so nothing "
        "can exercise it (see satisfiable): no event can match rule never*",
    ], consecutive=False)  # fmt: skip


def test_hypothesis_profile_option_sets_the_examples(pytester: pytest.Pytester) -> None:
    # A profile of 1 example: the property draws one log, so runs evaluate just once.
    pytester.makeconftest("""
        from hypothesis import settings
        settings.register_profile("one", max_examples=1, database=None)
        import compliance

        calls = []
        real = compliance.evaluate

        def counting(*args, **kw):
            calls.append(1)
            return real(*args, **kw)

        compliance.evaluate = counting

        def pytest_sessionfinish(session):
            print(f"evaluations: {len(calls)}")
    """)  # fmt: skip
    args = ["--rulebook", str(DATA / "design-example.yaml"), "-k",
            "order_independent and crude", "-s"]  # fmt: skip

    def evaluations(*extra: str) -> int:
        out = pytester.runpytest(*args, *extra).stdout.str()
        return int(out.split("evaluations: ")[1].split()[0])

    assert evaluations("--hypothesis-profile", "one") == 2  # one log and its permutation
    assert evaluations() > 2  # the plugin's default of 10 examples
