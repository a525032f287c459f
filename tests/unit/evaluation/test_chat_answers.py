"""A chat answer's code, aligned to the prompt's code base (what follows the function's header)."""

from __future__ import annotations

from octopack.evaluation.chat import code_of, continuation, defined_name


def test_the_block_that_names_the_function_is_taken() -> None:
    answer = "Usage:\n```\nprint(add(1, 2))\n```\nCode:\n```python\ndef add(a, b):\n    return a + b\n```\n"
    assert code_of(answer, "add").startswith("print(add")  # the first block naming it
    assert code_of("```py\nx = 1\n```\n```py\ndef g(): pass\n```", "g") == "def g(): pass\n"
    assert code_of("no fences at all", "f") == "no fences at all"
    assert code_of("```python\ndef f():\n    return 1", "f") == "def f():\n    return 1"  # unclosed fence


def test_python_body_after_a_multi_line_header() -> None:
    answer = "```python\nfrom typing import List\n\ndef f(xs: List[int],\n      k: int = 3) -> int:\n    return k\n```"
    assert continuation(answer, "python", "f") == "\n    return k\n"


def test_python_method_in_a_class_is_dedented() -> None:
    answer = "```python\nclass Solution:\n    def f(self, x):\n        if x:\n            return 1\n        return 2\n```"
    assert continuation(answer, "python", "f") == "\n    if x:\n        return 1\n    return 2\n"


def test_brace_languages_skip_calls_and_comments() -> None:
    go = "```go\n// F([]int{1}) returns 1\nfunc F(xs []int) (int, error) {\n    return F2(xs), nil\n}\n```"
    assert continuation(go, "go", "F") == "\n    return F2(xs), nil\n}\n"
    js = "```js\nconsole.log(f(1));\nconst f = (x) => {\n  return x;\n};\n```"
    assert continuation(js, "js", "f") == "\n  return x;\n};\n"
    js_function = "```javascript\nfunction f(x) {\n  return x;\n}\n```"
    assert continuation(js_function, "js", "f") == "\n  return x;\n}\n"
    rust = "```rust\nfn main() { println!(\"{}\", f(2)); }\nfn f(x: i32) -> i32 {\n    x\n}\n```"
    assert continuation(rust, "rust", "f") == "\n    x\n}\n"
    cpp = "```cpp\n/* f(3)\n{3} */\nint f(vector<int> v) const {\n    return v[0];\n}\n```"
    assert continuation(cpp, "cpp", "f") == "\n    return v[0];\n}\n"


def test_java_bare_method_gets_the_class_closed() -> None:
    method = "```java\npublic int f(List<Integer> xs) throws Exception {\n    return xs.get(0);\n}\n```"
    assert continuation(method, "java", "f") == "\n    return xs.get(0);\n}\n}"
    whole = "```java\nclass Solution {\n    public int f(int x) {\n        return x;\n    }\n}\n```"
    assert continuation(whole, "java", "f") == "\n        return x;\n    }\n}\n"


def test_without_the_definition_the_code_is_kept() -> None:
    assert continuation("```python\nreturn 42\n```", "python", "f") == "return 42\n"
    assert continuation("I cannot help with that.", "go", "F") == "I cannot help with that."
    assert continuation("anything", "python", "") == "anything"


def test_the_name_comes_from_the_code_base() -> None:
    # Rust/61 declares correct_bracketing_parenthesis but names its entry point correct_bracketing.
    prefix = "\nuse std::cmp;\nfn main(){}\n/* doc */\nfn correct_bracketing_parenthesis(bkts:&str) -> bool{\n"
    assert defined_name(prefix, "rust") == "correct_bracketing_parenthesis"
    answer = "```rust\nfn correct_bracketing_parenthesis(bkts: &str) -> bool {\n    true\n}\n```"
    assert continuation(answer, "rust", "correct_bracketing", prefix) == "\n    true\n}\n"
    assert defined_name("fn compare_one<'a>(a:&'a dyn Any) -> RtnType<String,f64,i32>{\n", "rust") == "compare_one"
    assert defined_name("import (\n)\n// F(x) is\nfunc Longest(strings []string) interface{}{\n", "go") == "Longest"
    assert defined_name("bool is_p(string s){\n    for (int i=0;i<2;i++) {\n    }\n}\nint f(int x){\n", "cpp") == "f"
    assert defined_name("from typing import List\n\n\ndef g(x):\n    pass\n\ndef f(x: int) -> int:\n", "python") == "f"


def test_go_interface_return_type() -> None:
    answer = "```go\nfunc Longest(strings []string) interface{} {\n    return nil\n}\n```"
    assert continuation(answer, "go", "Longest") == "\n    return nil\n}\n"
