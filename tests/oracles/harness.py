"""What bigcode-evaluation-harness does for HumanEvalPack, transcribed for comparison (no project code).

From ``bigcode_eval/tasks/humanevalpack.py`` with the ``octocoder`` prompt: the prompts of
every task, the post-processing of a generation (which, as in the harness, starts with
the prompt) and the program file each generation becomes (``process_results`` then
``code_eval_octopack``, which writes ``generation + "\\n" + reference`` with
``reference = "\\n" + test``).
"""

from __future__ import annotations

from typing import Any

NAMES = {"python": "Python", "cpp": "C++", "js": "JavaScript", "java": "Java", "go": "Go", "rust": "Rust"}
STOP_WORDS = {
    "python": ["\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\nassert"],
    "cpp": [], "js": [], "java": [], "rust": [],
    "go": ["\n//", "\nfunc main(", "struct", "\nfunc"],
}
PYTHON_IMPORTS = ["import math", "import re", "import sys", "import copy", "import datetime", "import itertools",
                  "import collections", "import heapq", "import statistics", "import functools", "import hashlib",
                  "import numpy", "import numpy as np", "import string", "from typing import *",
                  "from collections import *"]
GO_IMPORTS = ["math", "strings", "fmt", "strconv", "time", "bytes", "regexp", "sort", "math/rand", "crypto/md5"]
CPP_IMPORTS = ["using namespace std;", "#include<stdlib.h>", "#include<algorithm>", "#include<cmath>",
               "#include<math.h>", "#include<numeric>", "#include<stdio.h>", "#include<vector>", "#include<set>",
               "#include<map>", "#include<queue>", "#include<stack>", "#include<list>", "#include<deque>",
               "#include<boost/any.hpp>", "#include<string>", "#include<climits>", "#include<cstring>",
               "#include<iostream>", "#include<sstream>", "#include<fstream>"]


def stop_words(language: str) -> list[str]:
    return [*STOP_WORDS[language], "<|endoftext|>"]


def prompt_base(doc: dict[str, Any], language: str, with_docs: bool) -> str:
    if with_docs:
        return doc["prompt"]
    return "fn main(){}\n" + doc["declaration"] if language == "rust" else doc["declaration"]


def octocoder(base: str, instruction: str, context: str | None = None) -> str:
    inp = instruction if context is None else instruction + "\n" + context
    return f"Question: {inp}\n\nAnswer:\n{base}".strip()


def prompt(doc: dict[str, Any], language: str, task: str, description: str = "") -> str:
    """``task``: synthesize, fix, describe (Explain step 1) or explain (step 2)."""
    if task == "synthesize":
        return octocoder(prompt_base(doc, language, True), doc["instruction"].strip())
    base = prompt_base(doc, language, False)
    if task == "fix":
        return octocoder(base, f'Fix bugs in {doc["entry_point"]}.', base + doc["buggy_solution"] + "\n" + doc["test"])
    if task == "describe":
        instruction = ("Provide a concise natural language description of the code using at most "
                       f"{len(doc['docstring'])} characters.")
        return octocoder("", instruction, base + doc["canonical_solution"])
    return octocoder(base, f"Write functional code in {NAMES[language]} according to the description.", description)


def remove_last_block(code: str, language: str) -> str:
    for w in stop_words(language):
        if w in code:
            code = code[: code.find(w)]
    if language == "python":
        for i, line in enumerate(code.split("\n")):
            if len(line.strip()) > 0 and line[0] != " " and line[0] != "\t":
                return "\n".join(code.split("\n")[:i])
        return code
    depth = 2 if language == "java" else 1
    for i, c in enumerate(code):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if depth == 0:
            return code[: i + 1]
    if language == "java":
        main = code.find("public static void main")
        if main != -1:
            code = code[:main] + "}"
        if "}" in code:
            code = code[: code.rfind("}")] + "}"
        if code.count("{") - 1 == code.count("}"):
            code += "\n}"
    elif "}" in code:
        code = code[: code.rfind("}")] + "}"
    return code


def postprocess(doc: dict[str, Any], language: str, task: str, generation: str, description: str = "") -> str:
    """The harness's ``postprocess_generation``; ``generation`` starts with the prompt, as the harness's do."""
    text = generation[len(prompt(doc, language, task, description)) :]
    if task == "describe":
        gen = text.strip()[: len(doc["docstring"])]
        for w in stop_words(language):
            if w in gen:
                gen = gen[: gen.find(w)]
        gen = gen.rstrip()
        for line in doc["canonical_solution"].split("\n"):
            line = line.strip()
            if len(line) > 20 and line in gen:
                gen = gen.replace(line, "")
        return gen
    gen = remove_last_block(text.rstrip(), language)
    if task == "fix":
        return prompt_base(doc, language, False).rstrip() + gen
    return doc["prompt"].rstrip() + gen


def program_files(doc: dict[str, Any], language: str, generations: list[str]) -> list[str]:
    """The files the harness runs for one problem's post-processed generations, in order."""
    ref = "\n" + doc["test"]
    gens = list(generations)
    if language == "python":
        gens = [("\n".join(PYTHON_IMPORTS) + "\n" + g).strip() for g in gens]
    elif language == "cpp":
        gens = [("\n".join(CPP_IMPORTS) + "\n" + g.split("int main")[0]).strip() for g in gens]
    elif language == "java":
        gens = [g.replace("public class Main {\n    }", "").strip() for g in gens]
    elif language == "go":
        test_setup_str = doc["test_setup"] + "\n"
        for i, g in enumerate(gens):
            for line in test_setup_str.split("\n"):
                line = line.replace("import", "").replace("(", "").replace(")", "").strip()
                if line.startswith('"') and line in g:
                    test_setup_str = test_setup_str.replace(line, "")
            g = test_setup_str + g + "\n" + ref
            other_pkgs = []
            for pkg in GO_IMPORTS:
                if '"' + pkg + '"' not in g:
                    p = pkg.split("/")[-1]
                    if p + "." in g:
                        for line in g.split("\n"):
                            if (p + "." in line) and not line.strip().startswith("//"):
                                if '"' + p + '"' not in other_pkgs:  # a set in the harness
                                    other_pkgs.append('"' + p + '"')
                                break
            other_pkgs_str = ""
            if other_pkgs:
                other_pkgs_str = "import (\n" + "\n".join(["    " + p for p in other_pkgs]) + "\n)\n"
            if ("package main" in gens[i]) and ("package main" in test_setup_str):
                gens[i] = gens[i].replace("package main", "")
            gens[i] = test_setup_str + other_pkgs_str + gens[i]
    elif language == "rust":
        for i, g in enumerate(gens):
            new_gen = "" if "fn main()" in g else "fn main(){}\n"
            for line in doc["declaration"].split("\n"):
                if line.strip() not in g:
                    if line.strip().startswith("fn") and (line.strip().split("(")[0]) in g:
                        continue
                    new_gen += line.strip() + "\n"
            g = "fn main()".join(g.split("fn main()")[0:2])
            gens[i] = new_gen + g
    return [g + "\n" + ref for g in gens]
