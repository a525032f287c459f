"""Hostile programs in all six languages, each attack as small as it can be.

``{target}`` is a file path outside the work directory, ``{port}`` a loopback TCP port the test
listens on. The attacks on files, neighbours, secrets and the disk are in ``hostile_world.py``.
"""

from __future__ import annotations

from octopack.common.vocabulary import EXECUTOR_LANGUAGES
from tests.integration.executor import hostile_world

CPP_HEADERS = """#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <iostream>
#include <fstream>
#include <string>
#include <vector>
#include <unistd.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sstream>
#include <cctype>
extern char **environ;
std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out; std::stringstream in(s); std::string part;
    while (std::getline(in, part, ':')) out.push_back(part);
    return out;
}
"""

BODIES: dict[str, dict[str, str]] = {
    "fork_bomb": {
        "python": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        "js": "const cp = require('child_process');\n"
        "while (true) { try { cp.spawn('/bin/sh', ['-c', 'while :; do :; done']); } catch (e) {} }\n",
        "java": 'while (true) { try { new ProcessBuilder("/bin/sh", "-c", "while :; do :; done").start(); }'
        " catch (IOException e) {} }",
        "go": 'for {\n_ = exec.Command("/bin/sh", "-c", "while :; do :; done").Start()\n}',
        "cpp": "while (true) fork();",
        "rust": 'loop { let _ = std::process::Command::new("/bin/sh").args(["-c", "while :; do :; done"]).spawn(); }',
    },
    "memory_bomb": {
        "python": "x = []\nwhile True:\n    x.append(bytearray(16 * 1024 * 1024))\n",
        "js": "const a = [];\nwhile (true) { a.push(new Array(1 << 20).fill(1.5)); }\n",
        "java": "List<long[]> l = new ArrayList<>();\nwhile (true) l.add(new long[1 << 20]);",
        "go": "var keep [][]byte\nfor {\nb := make([]byte, 1<<24)\nfor i := range b {\nb[i] = 1\n}\n"
        "keep = append(keep, b)\n}",
        "cpp": "std::vector<char*> v;\nwhile (true) { char* p = new char[1 << 24]; memset(p, 1, 1 << 24); "
        "v.push_back(p); }",
        "rust": "let mut v: Vec<Vec<u8>> = Vec::new();\nloop { v.push(vec![1u8; 1 << 24]); }",
    },
    "infinite_loop": {
        "python": "while True:\n    pass\n",
        "js": "while (true) {}\n",
        "java": "while (true) {}",
        "go": "for {\n}",
        "cpp": "volatile unsigned long x = 0;\nwhile (true) { x++; }",
        "rust": "let mut x: u64 = 0;\nloop { x = unsafe { std::ptr::read_volatile(&x) }.wrapping_add(1); }",
    },
    "output_flood": {
        "python": "while True:\n    print('x' * 1000)\n",
        "js": "while (true) { console.log('x'.repeat(1000)); }\n",
        "java": 'while (true) System.out.println("x".repeat(1000));',
        "go": 'for {\nfmt.Println(strings.Repeat("x", 1000))\n}',
        "cpp": "while (true) std::cout << std::string(1000, 'x') << std::endl;",
        # The test harness captures println!; a direct write to stdout is not captured.
        "rust": "use std::io::Write;\nlet mut o = std::io::stdout();\nloop { o.write_all(&[b'x'; 1000]).unwrap(); }",
    },
    "sleep": {
        "python": "import time\ntime.sleep(60)\n",
        "js": "setTimeout(() => {}, 60000);\n",
        "java": "Thread.sleep(60000);",
        "go": "time.Sleep(60 * time.Second)",
        "cpp": "sleep(60);",
        "rust": "std::thread::sleep(std::time::Duration::from_secs(60));",
    },
    "write_outside": {
        "python": "open({target!r}, 'w').write('pwned')\n",
        "js": "require('fs').writeFileSync({target!r}, 'pwned');\n",
        "java": 'Files.writeString(Path.of("{target}"), "pwned");',
        "go": 'if err := os.WriteFile("{target}", []byte("pwned"), 0644); err != nil {\nt.Fatal(err)\n}',
        "cpp": 'FILE* f = fopen("{target}", "w");\nif (!f) return 1;\nfputs("pwned", f);\nfclose(f);',
        "rust": 'std::fs::write("{target}", "pwned").unwrap();',
    },
    "network": {
        "python": "import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)\n",
        "js": "const s = require('net').connect({port}, '127.0.0.1', () => process.exit(0));\n"
        "s.on('error', (e) => { console.error(String(e)); process.exit(1); });\n",
        "java": 'new Socket("127.0.0.1", {port}).close();',
        "go": 'c, err := net.Dial("tcp", "127.0.0.1:{port}")\nif err != nil {\nt.Fatal(err)\n}\nc.Close()',
        "cpp": "int s = socket(AF_INET, SOCK_STREAM, 0);\nsockaddr_in a;\nmemset(&a, 0, sizeof a);\n"
        "a.sin_family = AF_INET;\na.sin_port = htons({port});\na.sin_addr.s_addr = htonl(0x7f000001);\n"
        "return connect(s, (sockaddr*)&a, sizeof a) == 0 ? 0 : 1;",
        "rust": 'std::net::TcpStream::connect(("127.0.0.1", {port})).unwrap();',
    },
    "kill_parent": {
        "python": "import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\n"
        "    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\n",
        "js": "try { process.kill(process.ppid, 'SIGKILL'); } catch (e) {}\n",
        "java": "ProcessHandle.current().parent().ifPresent(ProcessHandle::destroyForcibly);",
        "go": "_ = syscall.Kill(os.Getppid(), syscall.SIGKILL)",
        "cpp": "kill(getppid(), SIGKILL);",
        "rust": 'let _ = std::process::Command::new("kill")'
        '.args(["-9", &std::os::unix::process::parent_id().to_string()]).status();',
    },
    "read_secrets": {
        "python": "import os\nprint(dict(os.environ))\nfor pid in os.listdir('/proc'):\n"
        "    try:\n        print(open(f'/proc/{pid}/environ').read())\n    except OSError as e:\n"
        "        print(e)\n",
        "js": "console.log(JSON.stringify(process.env));\n"
        "try { console.log(require('fs').readFileSync('/proc/' + process.ppid + '/environ', 'utf8')); }"
        " catch (e) { console.log(String(e)); }\n",
        "java": "System.out.println(System.getenv());\ntry { System.out.println(Files.readString(Path.of("
        '"/proc/" + ProcessHandle.current().parent().get().pid() + "/environ"))); }'
        " catch (Exception e) { System.out.println(e); }",
        "go": 'fmt.Println(os.Environ())\nb, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", os.Getppid()))\n'
        "fmt.Println(string(b), err)",
        "cpp": "for (char** e = environ; *e; ++e) std::cout << *e << std::endl;\n"
        'std::ifstream f("/proc/" + std::to_string(getppid()) + "/environ");\n'
        "std::cout << f.rdbuf() << std::endl;",
        "rust": "use std::io::Write;\nlet mut e = std::io::stderr();\n"
        'for (k, v) in std::env::vars() { writeln!(e, "{}={}", k, v).unwrap(); }\n'
        'match std::fs::read(format!("/proc/{}/environ", std::os::unix::process::parent_id())) {\n'
        '  Ok(b) => e.write_all(&b).unwrap(),\n  Err(x) => writeln!(e, "{}", x).unwrap(),\n}',
    },
}

BODIES.update(hostile_world.BODIES)

GO_IMPORTS = ["fmt", "net", "os", "os/exec", "strconv", "strings", "syscall", "testing", "time"]
GO_USE = "var _ = fmt.Sprint\nvar _ = net.Dial\nvar _ = os.Getpid\nvar _ = exec.Command\n"
GO_USE += "var _ = strings.Repeat\nvar _ = syscall.Kill\nvar _ = time.Sleep\nvar _ = strconv.Atoi\n"

LANGUAGES = EXECUTOR_LANGUAGES


def program(language: str, kind: str, **fill: object) -> str:
    """The full source of one hostile program."""
    body = BODIES[kind][language]
    for key, value in fill.items():
        body = body.replace("{" + key + "!r}", repr(value)).replace("{" + key + "}", str(value))
    if language in ("python", "js"):
        return body
    if language == "java":
        return (
            "import java.io.*;\nimport java.net.*;\nimport java.nio.file.*;\nimport java.util.*;\n"
            "public class Main {\n    public static void main(String[] args) throws Exception {\n"
            f"{body}\n    }}\n}}\n"
        )
    if language == "go":
        imports = "\n".join(f'    "{p}"' for p in GO_IMPORTS)
        return f"package main\n\nimport (\n{imports}\n)\n\n{GO_USE}\nfunc TestHostile(t *testing.T) {{\n{body}\n}}\n"
    if language == "cpp":
        return f"{CPP_HEADERS}\nint main() {{\n{body}\nreturn 0;\n}}\n"
    # The harness prints "test hostile ... " without a newline: start the program's own lines anew.
    newline = "{ use std::io::Write; writeln!(std::io::stdout()).unwrap(); }"
    return f"#[test]\nfn hostile() {{\n{newline}\n{body}\n}}\n"
