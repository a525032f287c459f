"""Stopping generation at the function's end changes no scored program.

The engine stops a row at the first token after which :func:`function_complete` holds; the
post-processing must then produce the same code from that prefix as from the whole text.
"""

from __future__ import annotations

import pytest

from octopack.evaluation.postprocess import clean_continuation, function_end_rule
from octopack.ray_jobs.serve.params import function_complete

CONTINUATIONS = {
    "python": [
        "\n    return a + b\n\n\ndef main():\n    print(add(1, 2))\n",
        "\n    if x:\n        return 1\n\n    return 2\nprint(f(3))\n",
        "\n    total = 0\n    for v in xs:\n        total += v\n    return total\n# tests\nassert f([1]) == 1\n",
        "\n    return [v for v in xs if v]\nclass Other:\n    pass\n",
        "\n    return 1",
    ],
    "js": [
        "\n  if (a) {\n    return b;\n  }\n  return c;\n};\nconsole.log(f(1));\n",
        "\n  return xs.map((x) => { return x + 1; });\n}\n\nconst g = () => {};\n",
        "\n  return 1;\n",
    ],
    "java": [
        "\n        return a + b;\n    }\n}\n\npublic class Main {\n    public static void main(String[] a) {}\n}\n",
        "\n        for (int i = 0; i < n; i++) {\n            s += i;\n        }\n        return s;\n    }\n}",
    ],
    "go": [
        "\n\treturn a + b\n}\n\nfunc main() {\n\tfmt.Println(add(1, 2))\n}\n",
        "\n\tm := map[string]int{}\n\treturn len(m)\n}\n// trailing comment\n",
    ],
    "cpp": ["\n    return a + b;\n}\nint main() {\n    return 0;\n}\n"],
    "rust": ["\n    a + b\n}\n\nfn main() {\n    println!(\"{}\", add(1, 2));\n}\n"],
}


def _engine_cut(text: str, rule: str) -> str:
    """The text an engine returns: up to the first character after which the function is complete."""
    for end in range(1, len(text) + 1):
        if function_complete(text[:end], rule):
            return text[:end]
    return text


@pytest.mark.parametrize(
    ("language", "text"), [(lang, t) for lang, texts in CONTINUATIONS.items() for t in texts]
)
def test_stopping_at_the_function_end_keeps_the_scored_code(language: str, text: str) -> None:
    cut = _engine_cut(text, function_end_rule(language))
    # An engine stops at a token boundary, so any longer prefix must give the same code too.
    for end in range(len(cut), len(text) + 1):
        assert clean_continuation(text[:end], language) == clean_continuation(text, language), text[:end]


def test_the_stop_saves_the_text_after_the_function() -> None:
    text = CONTINUATIONS["go"][0]
    cut = _engine_cut(text, function_end_rule("go"))
    assert cut == "\n\treturn a + b\n}"
