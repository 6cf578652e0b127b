//! README.md's console examples are run as written and must print what it shows.

fn words(line: &str) -> Vec<String> {
    // Enough of shell quoting for the README: plain words and '...' strings.
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            _ => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

#[test]
fn console_examples_are_true() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut runs = 0;
    for block in readme.split("```console\n").skip(1) {
        let block = block.split("```").next().unwrap();
        let mut lines = block.lines().peekable();
        while let Some(line) = lines.next() {
            let cmd = line.strip_prefix("$ deriv ").unwrap();
            let mut want = String::new();
            while let Some(l) = lines.peek().filter(|l| !l.starts_with("$ ")) {
                want.push_str(l);
                want.push('\n');
                lines.next();
            }
            let args = words(cmd);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let r = crate::support::run(&args);
            assert_eq!(r.code, 0, "{cmd}: {}", r.stderr);
            assert_eq!(format!("{}{}", r.stdout, r.stderr), want, "{cmd}");
            runs += 1;
        }
    }
    assert!(runs >= 10);
}

#[test]
fn the_steps_example_is_true() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme.split("```text\n").nth(1).unwrap().split("```").next().unwrap();
    let (cmd, want) = block.split_once('\n').unwrap();
    let args = words(cmd.strip_prefix("$ deriv ").unwrap());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = crate::support::run(&args);
    assert_eq!(r.stdout, want);
}

#[test]
fn the_repl_example_is_true() {
    // The first block with a `deriv> ` prompt: its lines typed at `deriv repl`, the
    // other lines what it answers.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme.split("```sh\n").find(|b| b.starts_with("deriv> ")).unwrap().split("```").next().unwrap();
    let (mut typed, mut want) = (String::new(), String::new());
    for line in block.lines() {
        match line.strip_prefix("deriv> ") {
            Some(l) => typed.push_str(&format!("{l}\n")),
            None => want.push_str(&format!("{line}\n")),
        }
    }
    let r = crate::support::run_with_stdin(&["repl"], typed.as_bytes());
    assert_eq!((r.code, r.stdout, r.stderr), (0, want, String::new()));
}
