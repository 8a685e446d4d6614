//! End-to-end checks of `shim-spawn` and `loggen` together, with small `sh` scripts as
//! loggers: the fds and environment the logger gets, the ready byte or EOF, and the
//! SIGTERM-then-SIGKILL shutdown.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

/// A fresh directory holding `logger.sh` with `body` after the shebang.
fn logger(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shim-spawn-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let script = dir.join("logger.sh");
    let body = body.replace("$DIR", dir.to_str().unwrap());
    fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
    Command::new("chmod").arg("+x").arg(&script).status().unwrap();
    script
}

fn spawn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shim-spawn"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn ready_byte_env_fds_and_data() {
    let script = logger(
        "ready",
        "tr '\\0' '\\n' < /proc/$$/environ > $DIR/env; echo \"$@\" > $DIR/argv
         printf x >&5; exec 5>&-
         trap '' TERM
         cat <&3 > $DIR/out & cat <&4 > $DIR/err; wait",
    );
    let dir = script.parent().unwrap();
    let gen = env!("CARGO_BIN_EXE_loggen");
    let out = spawn(&[
        "--id",
        "c1",
        "--ns",
        "zos",
        "--logger",
        script.to_str().unwrap(),
        "--root",
        "/x",
        "--",
        gen,
        "--count",
        "5000",
        "--stderr",
        "20",
        "--size",
        "100",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("logger ready in ") && stderr.contains(" ms (byte)"),
        "{stderr}"
    );
    assert!(stderr.contains("container exited with status 0"), "{stderr}");
    let env = fs::read_to_string(dir.join("env")).unwrap();
    assert_eq!(env, "CONTAINER_ID=c1\nCONTAINER_NAMESPACE=zos\n");
    assert_eq!(fs::read_to_string(dir.join("argv")).unwrap(), "--root /x\n");
    let verify = Command::new(gen)
        .args(["verify", "--size", "100", "--count", "5000", "--stderr", "20"])
        .arg(dir.join("out"))
        .arg(dir.join("err"))
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn ready_eof_and_exit_on_pipe_eof() {
    let script = logger("eof", "exec 5>&-; cat <&3 > $DIR/out & cat <&4 > /dev/null; wait");
    let out = spawn(&[
        "--no-term",
        "--logger",
        script.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "echo hi; exit 7",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains(" ms (EOF)"), "{stderr}");
    assert!(stderr.contains("logger exited with status 0 after"), "{stderr}");
    let dir = script.parent().unwrap();
    assert_eq!(fs::read_to_string(dir.join("out")).unwrap(), "hi\n");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sigkill_after_grace() {
    let script = logger("kill", "trap '' TERM; printf x >&5; exec 5>&-; exec sleep 30");
    let out = spawn(&["--grace", "0.3", "--logger", script.to_str().unwrap(), "--", "true"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("logger killed by signal 9 after"), "{stderr}");
    fs::remove_dir_all(script.parent().unwrap()).unwrap();
}
