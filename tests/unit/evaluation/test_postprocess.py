"""Post-processing of real-looking continuations in every language."""

from __future__ import annotations

import pytest

from octopack.evaluation.postprocess import (
    END_OF_TEXT,
    clean_continuation,
    cut_at_stop,
    first_function,
    stop_sequences,
)

PY_BODY = (
    "\n    for idx, elem in enumerate(numbers):\n"
    "        for idx2, elem2 in enumerate(numbers):\n"
    "            if idx != idx2 and abs(elem - elem2) < threshold:\n"
    "                return True\n"
    "\n"
    "    return False"
)


def test_every_language_stops_at_end_of_text() -> None:
    for language in ("python", "js", "java", "go", "cpp", "rust"):
        assert stop_sequences(language)[-1] == END_OF_TEXT


def test_cut_at_stop_takes_the_earliest() -> None:
    assert cut_at_stop("a\nif b\ndef c", ["\ndef", "\nif"]) == "a"
    assert cut_at_stop("nothing to cut", ["\ndef"]) == "nothing to cut"


@pytest.mark.parametrize(
    "tail",
    [
        "\n\n\ndef main():\n    print(has_close_elements([1.0], 0.5))\n",
        "\n\nif __name__ == '__main__':\n    import doctest\n",
        "\n\nprint(has_close_elements([1.0, 2.0], 0.5))",
        "\n\n# Test\nassert has_close_elements([1.0], 0.5) is False",
        "\n\nclass Helper:\n    pass",
        "\n\n@decorator\ndef other():\n    pass",
        "<|endoftext|>Question: write a sort function",
        "\nresult = has_close_elements([1.0], 0.5)\n",  # first non-indented line ends the function
    ],
)
def test_python_keeps_only_the_function_body(tail: str) -> None:
    # Blank lines before the cut stay (as in the reference harness); they do not change the program.
    assert clean_continuation(PY_BODY + tail, "python").rstrip("\n") == PY_BODY


def test_python_keeps_blank_lines_inside_the_body() -> None:
    body = "\n    x = 1\n\n    return x"
    assert first_function(body + "\n\nprint(x)", "python") == body + "\n"


def test_javascript_stops_where_the_function_closes() -> None:
    body = (
        "\n  for (let i = 0; i < numbers.length; i++) {\n"
        "    for (let j = 0; j < numbers.length; j++) {\n"
        "      if (i != j && Math.abs(numbers[i] - numbers[j]) < threshold) {\n"
        "        return true;\n      }\n    }\n  }\n  return false;\n}"
    )
    generation = body + "\n\nconsole.log(hasCloseElements([1.0, 2.0, 3.0], 0.5));\n"
    assert clean_continuation(generation, "js") == body


def test_java_closes_method_and_class() -> None:
    body = (
        "\n        for (int i = 0; i < numbers.size(); i++) {\n"
        "            for (int j = i + 1; j < numbers.size(); j++) {\n"
        "                if (Math.abs(numbers.get(i) - numbers.get(j)) < threshold) return true;\n"
        "            }\n        }\n        return false;\n    }\n}"
    )
    generation = body + "\n\npublic class Main {\n    public static void main(String[] args) {}\n}\n"
    assert clean_continuation(generation, "java") == body


def test_java_drops_an_unfinished_main_and_closes_the_class() -> None:
    generation = (
        "\n        return a + b;\n    }\n\n"
        "    public static void main(String[] args) {\n        System.out.println(new Solution().add(1, 2"
    )
    assert clean_continuation(generation, "java") == "\n        return a + b;\n    }\n\n    }"


def test_go_stops_before_the_next_function() -> None:
    body = (
        "\n    for i := 0; i < len(numbers); i++ {\n"
        "        for j := i + 1; j < len(numbers); j++ {\n"
        "            if math.Abs(numbers[i]-numbers[j]) < threshold {\n"
        "                return true\n            }\n        }\n    }\n    return false\n}"
    )
    generation = body + "\n\nfunc main() {\n    fmt.Println(HasCloseElements([]float64{1.0}, 0.5))\n}\n"
    assert clean_continuation(generation, "go") == body


def test_go_stops_at_a_comment_and_at_struct() -> None:
    assert clean_continuation("\n    return x + 1\n}\n// Example usage", "go") == "\n    return x + 1\n}"
    assert clean_continuation("\n    return 0\n}\ntype point struct {", "go") == "\n    return 0\n}"


def test_cpp_drops_the_main_the_model_wrote() -> None:
    body = (
        "\n    for (int i = 0; i < numbers.size(); i++)\n"
        "        for (int j = i + 1; j < numbers.size(); j++)\n"
        "            if (abs(numbers[i] - numbers[j]) < threshold) return true;\n"
        "    return false;\n}"
    )
    generation = body + '\n\nint main() {\n    printf("%d", has_close_elements({1.0}, 0.5));\n}\n'
    assert clean_continuation(generation, "cpp") == body


def test_rust_stops_where_the_function_closes() -> None:
    body = (
        "\n    for i in 0..numbers.len() {\n"
        "        for j in (i + 1)..numbers.len() {\n"
        "            if (numbers[i] - numbers[j]).abs() < threshold {\n"
        "                return true;\n            }\n        }\n    }\n    false\n}"
    )
    generation = body + "\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn it_works() {}\n}\n"
    assert clean_continuation(generation, "rust") == body


def test_unbalanced_braces_keep_up_to_the_last_closing_brace() -> None:
    generation = "\n  if (x) {\n    return 1;\n  }\n  for (let i = 0; i <"
    assert clean_continuation(generation, "js") == "\n  if (x) {\n    return 1;\n  }"


def test_a_repeated_prompt_is_removed_first() -> None:
    prompt = "Question: Fix bugs in f.\n\nAnswer:\ndef f(x):"
    assert (
        clean_continuation(prompt + "\n    return x\n\nprint(f(1))", "python", prompt) == "\n    return x\n"
    )


def test_trailing_whitespace_is_dropped_before_cutting() -> None:
    assert clean_continuation("\n  return 1;\n}\n\n   \n", "js") == "\n  return 1;\n}"
