# The ssh-keygen flow on a pseudo-terminal, shared by the interactive tests:
# start a program as at a terminal and answer its prompts in turn.
import os
import re
import signal

import pexpect

PROMPTS = [r"Enter file in which to save the key \(.*\): ",
           r"Overwrite \(y/n\)\? ",
           r"Enter passphrase \(empty for no passphrase\): ",
           r"Enter same passphrase again: ",
           pexpect.EOF]

# The seconds counter hwkeygen draws while a slow keygen runs (only on a
# terminal, only after a second), and the erase that ends it.  How long a
# keygen takes depends on the machine, so transcripts compare without it;
# interactive.py tests the counter itself.
PROGRESS = re.compile(r"(?:\rGenerating the \d+-bit key \([^)]*\)\.\.\. "
                      r"\d+ s )+\r\x1b\[K")


def spawn(argv, home, env=None):
    env = dict(os.environ, HOME=home, LC_ALL="C", **(env or {}))
    # As at a terminal, even when the suite runs in the background with
    # SIGINT ignored: Ctrl-C must be able to end the child.
    c = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8",
                      timeout=120, preexec_fn=lambda: signal.signal(
                          signal.SIGINT, signal.SIG_DFL))
    # No pause before each answer (pexpect's is 50 ms): it guards against a
    # program that turns echo off after its prompt, and both ssh-keygen and
    # hwkeygen turn it off first.
    c.delaybeforesend = None
    return c


def reap(c):
    """Closes a child that has reached the end of its output, once it has
    exited: close() alone gives it 0.1 s first, then signals."""
    c.wait()
    c.ptyproc.delayafterclose = 0
    c.close()


def finish(c):
    """Reads to the end and reaps the child; returns its exit status and
    signal."""
    c.expect(pexpect.EOF)
    reap(c)
    return c.exitstatus, c.signalstatus


def transcript(argv, home, answers):
    """Runs argv answering each prompt in turn (then Enter); returns the
    output without the progress counter, and the exit status."""
    c = spawn(argv, home)
    out = ""
    answers = list(answers)
    while True:
        i = c.expect(PROMPTS)
        out += c.before + (c.after if isinstance(c.after, str) else "")
        if i == len(PROMPTS) - 1:
            break
        c.sendline(answers.pop(0) if answers else "")
    reap(c)
    return PROGRESS.sub("", out).replace("\r\n", "\n"), c.exitstatus
