"""Hostile programs against the world around a program: files it leaves, the files and processes of
others, the server's secrets, the disk. Six languages each; ``hostile.program`` wraps them.

Fills: ``{paths}`` is a colon-separated list of paths, ``{victim}`` the name of the file a
neighbour guards. Output lines are the protocol the tests read: ``wrote P``, ``denied P``,
``found P``, ``replaced P``, ``killed N``.
"""

from __future__ import annotations

#: A marker a program leaves in each place it can write (plus $HOME and its work directory).
LEFT_OVER = "octopack-left-over"

#: Per language: ``ps``, the places given plus ``$HOME/LEFT_OVER`` and ``LEFT_OVER`` in the work directory.
PLACES = {
    "python": "import os\nps = '{paths}'.split(':') + [os.environ['HOME'] + '/" + LEFT_OVER + "', '" + LEFT_OVER + "']\n",
    "js": "const fs = require('fs');\n"
    "const ps = '{paths}'.split(':').concat([process.env.HOME + '/" + LEFT_OVER + "', '" + LEFT_OVER + "']);\n",
    "java": 'List<String> ps = new ArrayList<>(Arrays.asList("{paths}".split(":")));\n'
    'ps.add(System.getenv("HOME") + "/' + LEFT_OVER + '"); ps.add("' + LEFT_OVER + '");\n',
    "go": 'ps := append(strings.Split("{paths}", ":"), os.Getenv("HOME")+"/' + LEFT_OVER + '", "' + LEFT_OVER + '")\n',
    "cpp": 'std::vector<std::string> ps = split("{paths}");\n'
    'ps.push_back(std::string(getenv("HOME")) + "/' + LEFT_OVER + '"); ps.push_back("' + LEFT_OVER + '");\n',
    "rust": "use std::io::Write;\nlet mut out = std::io::stdout();\n"
    'let mut ps: Vec<String> = "{paths}".split(\':\').map(String::from).collect();\n'
    'ps.push(format!("{}/' + LEFT_OVER + '", std::env::var("HOME").unwrap())); ps.push("' + LEFT_OVER + '".into());\n',
}
LEAVE = {
    "python": "for p in ps:\n    try:\n        open(p, 'w').write('left by an earlier program')\n        print('wrote', p)\n"
    "    except OSError:\n        print('denied', p)\n",
    "js": "for (const p of ps) {\n  try { fs.writeFileSync(p, 'left by an earlier program'); console.log('wrote ' + p); }"
    " catch (e) { console.log('denied ' + p); }\n}\n",
    "java": 'for (String p : ps) { try { Files.writeString(Path.of(p), "left by an earlier program");'
    ' System.out.println("wrote " + p); } catch (Exception e) { System.out.println("denied " + p); } }',
    "go": 'for _, p := range ps {\nif os.WriteFile(p, []byte("left by an earlier program"), 0644) == nil {\n'
    'fmt.Println("wrote", p)\n} else {\nfmt.Println("denied", p)\n}\n}',
    "cpp": 'for (auto& p : ps) { FILE* f = fopen(p.c_str(), "w");\n'
    'if (f) { fputs("left by an earlier program", f); fclose(f); std::cout << "wrote " << p << std::endl; }\n'
    'else std::cout << "denied " << p << std::endl; }',
    "rust": 'for p in ps { match std::fs::write(&p, "left by an earlier program") {\n'
    '  Ok(_) => writeln!(out, "wrote {}", p).unwrap(), Err(_) => writeln!(out, "denied {}", p).unwrap() } }',
}
FIND = {
    "python": "for p in ps:\n    if os.path.exists(p):\n        print('found', p)\n",
    "js": "for (const p of ps) if (fs.existsSync(p)) console.log('found ' + p);\n",
    "java": 'for (String p : ps) if (Files.exists(Path.of(p))) System.out.println("found " + p);',
    "go": 'for _, p := range ps {\nif _, err := os.Stat(p); err == nil {\nfmt.Println("found", p)\n}\n}',
    "cpp": 'for (auto& p : ps) { struct stat st; if (stat(p.c_str(), &st) == 0) std::cout << "found " << p << std::endl; }',
    "rust": 'for p in ps { if std::path::Path::new(&p).exists() { writeln!(out, "found {}", p).unwrap(); } }',
}

BODIES: dict[str, dict[str, str]] = {
    # Write a marker into every place given and into $HOME and the work directory.
    "leave_files": {lang: PLACES[lang] + LEAVE[lang] for lang in PLACES},
    # Report every marker it can see (an earlier program's, in the same places).
    "find_files": {lang: PLACES[lang] + FIND[lang] for lang in PLACES},
    # Print the environment, every /proc/<pid>/environ it can read and every file given.
    "read_secrets": {
        "python": "import os\nprint(dict(os.environ))\n"
        "for p in [f'/proc/{d}/environ' for d in os.listdir('/proc') if d.isdigit()] + '{paths}'.split(':'):\n"
        "    try:\n        print(p, open(p, 'rb').read())\n    except OSError as e:\n        print(p, e)\n",
        "js": "const fs = require('fs');\nconsole.log(JSON.stringify(process.env));\n"
        "const ps = fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d)).map((d) => '/proc/' + d + '/environ');\n"
        "for (const p of ps.concat('{paths}'.split(':'))) {\n"
        "  try { console.log(p, fs.readFileSync(p, 'latin1')); } catch (e) { console.log(p, String(e)); }\n}\n",
        "java": "System.out.println(System.getenv());\nList<String> ps = new ArrayList<>();\n"
        'try (var ds = Files.list(Path.of("/proc"))) { ds.forEach(d -> { if (d.getFileName().toString().matches("\\\\d+"))'
        ' ps.add(d + "/environ"); }); }\nps.addAll(Arrays.asList("{paths}".split(":")));\n'
        "for (String p : ps) { try { System.out.println(p + new String(Files.readAllBytes(Path.of(p)))); }"
        " catch (Exception e) { System.out.println(p + e); } }",
        "go": "fmt.Println(os.Environ())\nps := strings.Split(\"{paths}\", \":\")\n"
        'if ds, err := os.ReadDir("/proc"); err == nil {\nfor _, d := range ds {\n'
        'if _, e := strconv.Atoi(d.Name()); e == nil {\nps = append(ps, "/proc/"+d.Name()+"/environ")\n}\n}\n}\n'
        "for _, p := range ps {\nb, err := os.ReadFile(p)\nfmt.Println(p, string(b), err)\n}",
        "cpp": "for (char** e = environ; *e; ++e) std::cout << *e << std::endl;\n"
        'std::vector<std::string> ps = split("{paths}");\nif (DIR* d = opendir("/proc")) {\n'
        "  while (dirent* x = readdir(d)) if (isdigit(x->d_name[0])) ps.push_back(std::string(\"/proc/\") + x->d_name + \"/environ\");\n"
        "  closedir(d);\n}\n"
        "for (auto& p : ps) { std::ifstream f(p); std::stringstream s; s << f.rdbuf(); std::cout << p << ' ' << s.str() << std::endl; }",
        "rust": "use std::io::Write;\nlet mut out = std::io::stdout();\n"
        'for (k, v) in std::env::vars() { writeln!(out, "{}={}", k, v).unwrap(); }\n'
        'let mut ps: Vec<String> = "{paths}".split(\':\').map(String::from).collect();\n'
        'if let Ok(ds) = std::fs::read_dir("/proc") { for d in ds.flatten() {\n'
        "  let n = d.file_name().into_string().unwrap_or_default();\n"
        '  if n.chars().all(|c| c.is_ascii_digit()) { ps.push(format!("/proc/{}/environ", n)); } } }\n'
        "for p in ps { match std::fs::read(&p) {\n"
        '  Ok(b) => { writeln!(out, "{}", p).unwrap(); out.write_all(&b).unwrap(); }\n'
        '  Err(e) => writeln!(out, "{} {}", p, e).unwrap() } }',
    },
    # Look for a neighbour's guarded file in the places given and through /proc; replace it.
    "attack_neighbour": {
        "python": "import os, time\ntime.sleep(1)\n"
        "ps = '{paths}'.split(':') + [f'/proc/{d}/{w}/{victim}' for d in os.listdir('/proc') if d.isdigit()"
        " for w in ('cwd', 'root/work', 'root/tmp')]\nfor p in ps:\n    if os.path.exists(p):\n        print('found', p)\n"
        "        try:\n            open(p, 'w').write('pwned')\n            print('replaced', p)\n        except OSError:\n            pass\n",
        "js": "const fs = require('fs');\nconst ps = '{paths}'.split(':');\n"
        "for (const d of fs.readdirSync('/proc')) if (/^\\d+$/.test(d))"
        " for (const w of ['cwd', 'root/work', 'root/tmp']) ps.push('/proc/' + d + '/' + w + '/{victim}');\n"
        "setTimeout(() => { for (const p of ps) { if (!fs.existsSync(p)) continue; console.log('found ' + p);\n"
        "  try { fs.writeFileSync(p, 'pwned'); console.log('replaced ' + p); } catch (e) {} } }, 1000);\n",
        "java": 'Thread.sleep(1000);\nList<String> ps = new ArrayList<>(Arrays.asList("{paths}".split(":")));\n'
        'try (var ds = Files.list(Path.of("/proc"))) { ds.forEach(d -> { if (d.getFileName().toString().matches("\\\\d+"))'
        ' for (String w : new String[] {"cwd", "root/work", "root/tmp"}) ps.add(d + "/" + w + "/{victim}"); }); }\n'
        'for (String p : ps) { if (!Files.exists(Path.of(p))) continue; System.out.println("found " + p);\n'
        '  try { Files.writeString(Path.of(p), "pwned"); System.out.println("replaced " + p); } catch (Exception e) {} }',
        "go": 'time.Sleep(time.Second)\nps := strings.Split("{paths}", ":")\n'
        'if ds, err := os.ReadDir("/proc"); err == nil {\nfor _, d := range ds {\n'
        'if _, e := strconv.Atoi(d.Name()); e == nil {\nfor _, w := range []string{"cwd", "root/work", "root/tmp"} {\n'
        'ps = append(ps, "/proc/"+d.Name()+"/"+w+"/{victim}")\n}\n}\n}\n}\n'
        'for _, p := range ps {\nif _, err := os.Stat(p); err == nil {\nfmt.Println("found", p)\n'
        'if os.WriteFile(p, []byte("pwned"), 0644) == nil {\nfmt.Println("replaced", p)\n}\n}\n}',
        "cpp": 'sleep(1);\nstd::vector<std::string> ps = split("{paths}");\nif (DIR* d = opendir("/proc")) {\n'
        "  while (dirent* x = readdir(d)) if (isdigit(x->d_name[0])) for (const char* w : {\"cwd\", \"root/work\", \"root/tmp\"})\n"
        '    ps.push_back(std::string("/proc/") + x->d_name + "/" + w + "/{victim}");\n  closedir(d);\n}\n'
        "for (auto& p : ps) { struct stat st; if (stat(p.c_str(), &st) != 0) continue; std::cout << \"found \" << p << std::endl;\n"
        '  FILE* f = fopen(p.c_str(), "w"); if (f) { fputs("pwned", f); fclose(f); std::cout << "replaced " << p << std::endl; } }',
        "rust": "use std::io::Write;\nlet mut out = std::io::stdout();\nstd::thread::sleep(std::time::Duration::from_secs(1));\n"
        'let mut ps: Vec<String> = "{paths}".split(\':\').map(String::from).collect();\n'
        'if let Ok(ds) = std::fs::read_dir("/proc") { for d in ds.flatten() {\n'
        "  let n = d.file_name().into_string().unwrap_or_default();\n"
        '  if n.chars().all(|c| c.is_ascii_digit()) { for w in ["cwd", "root/work", "root/tmp"] { ps.push(format!("/proc/{}/{}/{victim}", n, w)); } } } }\n'
        "for p in ps { if !std::path::Path::new(&p).exists() { continue; }\n"
        '  writeln!(out, "found {}", p).unwrap();\n'
        '  if std::fs::write(&p, "pwned").is_ok() { writeln!(out, "replaced {}", p).unwrap(); } }',
    },
    # Fill the disk with files of at most 4 MiB each, until something refuses.
    "fill_disk": {
        "python": "chunk = b'x' * (1 << 20)\nfor i in range(100000):\n    with open(f'fill{i}', 'wb') as f:\n"
        "        for _ in range(4):\n            f.write(chunk)\n",
        "js": "const fs = require('fs');\nconst chunk = Buffer.alloc(1 << 20, 120);\n"
        "for (let i = 0; ; i++) { const fd = fs.openSync('fill' + i, 'w'); for (let j = 0; j < 4; j++) fs.writeSync(fd, chunk);"
        " fs.closeSync(fd); }\n",
        "java": "byte[] chunk = new byte[1 << 20];\nfor (int i = 0; ; i++) try (var f = new FileOutputStream(\"fill\" + i)) {"
        " for (int j = 0; j < 4; j++) f.write(chunk); }",
        "go": "chunk := make([]byte, 1<<20)\nfor i := 0; ; i++ {\nf, err := os.Create(fmt.Sprintf(\"fill%d\", i))\n"
        "if err != nil {\nt.Fatal(err)\n}\nfor j := 0; j < 4; j++ {\nif _, err := f.Write(chunk); err != nil {\nt.Fatal(err)\n}\n}\n"
        "if err := f.Close(); err != nil {\nt.Fatal(err)\n}\n}",
        "cpp": "std::string chunk(1 << 20, 'x');\nfor (int i = 0; ; i++) { FILE* f = fopen((\"fill\" + std::to_string(i)).c_str(), \"w\");\n"
        "  if (!f) return 1;\n  for (int j = 0; j < 4; j++) if (fwrite(chunk.data(), 1, chunk.size(), f) != chunk.size()) return 1;\n"
        "  if (fclose(f) != 0) return 1; }",
        "rust": "use std::io::Write;\nlet chunk = vec![b'x'; 1 << 20];\n"
        'for i in 0.. { let mut f = std::fs::File::create(format!("fill{}", i)).unwrap();\n'
        "  for _ in 0..4 { f.write_all(&chunk).unwrap(); }\n  f.sync_all().unwrap(); }",
    },
    # SIGKILL the parent, every process it can see, and everything it may signal.
    "signal_everyone": {
        "python": "import os, signal\nfor p in [os.getppid(), 1, {server_pid}] + [int(d) for d in os.listdir('/proc') if d.isdigit()]:\n"
        "    if p != os.getpid():\n        try:\n            os.kill(p, signal.SIGKILL)\n            print('killed', p)\n"
        "        except OSError:\n            pass\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\n",
        "js": "const fs = require('fs');\nconst ps = [process.ppid, 1, {server_pid}].concat(fs.readdirSync('/proc')"
        ".filter((d) => /^\\d+$/.test(d)).map(Number));\n"
        "for (const p of ps) if (p !== process.pid) { try { process.kill(p, 'SIGKILL'); console.log('killed ' + p); } catch (e) {} }\n"
        "try { process.kill(-1, 'SIGKILL'); } catch (e) {}\n",
        "java": "ProcessHandle.current().parent().ifPresent(ProcessHandle::destroyForcibly);\n"
        "ProcessHandle.allProcesses().forEach(p -> { if (p.pid() != ProcessHandle.current().pid() && p.destroyForcibly())"
        ' System.out.println("killed " + p.pid()); });\n'
        'new ProcessBuilder("kill", "-9", "-1").start().waitFor();',
        "go": "ps := []int{os.Getppid(), 1, {server_pid}}\n"
        'if ds, err := os.ReadDir("/proc"); err == nil {\nfor _, d := range ds {\nif n, e := strconv.Atoi(d.Name()); e == nil {\n'
        "ps = append(ps, n)\n}\n}\n}\nfor _, p := range ps {\nif p != os.Getpid() && syscall.Kill(p, syscall.SIGKILL) == nil {\n"
        'fmt.Println("killed", p)\n}\n}\n_ = syscall.Kill(-1, syscall.SIGKILL)',
        "cpp": "std::vector<int> ps = {getppid(), 1, {server_pid}};\nif (DIR* d = opendir(\"/proc\")) {\n"
        "  while (dirent* x = readdir(d)) if (isdigit(x->d_name[0])) ps.push_back(atoi(x->d_name));\n  closedir(d);\n}\n"
        'for (int p : ps) if (p != getpid() && kill(p, SIGKILL) == 0) std::cout << "killed " << p << std::endl;\nkill(-1, SIGKILL);',
        "rust": "use std::io::Write;\nlet mut out = std::io::stdout();\n"
        "let mut ps = vec![std::os::unix::process::parent_id(), 1, {server_pid}];\n"
        'if let Ok(ds) = std::fs::read_dir("/proc") { for d in ds.flatten() {\n'
        "  if let Ok(n) = d.file_name().into_string().unwrap_or_default().parse::<u32>() { ps.push(n); } } }\n"
        "for p in ps { if p != std::process::id() {\n"
        '  let ok = std::process::Command::new("kill").args(["-9", &p.to_string()]).status().map(|s| s.success()).unwrap_or(false);\n'
        '  if ok { writeln!(out, "killed {}", p).unwrap(); } } }\n'
        'let _ = std::process::Command::new("kill").args(["-9", "--", "-1"]).status();',
    },
}
