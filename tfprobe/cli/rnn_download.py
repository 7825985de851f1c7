"""``tfprobe rnn download``: fetch the authors' trained checkpoints of the recurrent network from OSF."""

from __future__ import annotations

import argparse
import urllib.parse
from pathlib import Path

from tfprobe.cli.failures import UsageError
from tfprobe.cli.parsing import add_command

__all__ = ["CODES", "add_download_command", "download"]

#: The codes of tfprobe.models.download.AUTHOR_CHECKPOINTS, repeated here so that building the parser
#: imports nothing heavy (importing tfprobe.models loads TensorFlow).
CODES = ("bglt_0111", "bglt_1011")


def _check(args: argparse.Namespace) -> None:
    if args.code == "all" and (args.url is not None or args.size is not None):
        raise UsageError("--url and --size name one file: give one --code with them, not --code all")
    if args.size is not None and args.url is None:
        raise UsageError("--size is the size of a mirror's file: give it with --url (OSF's sizes are known)")
    if args.size is not None and args.size < 1:
        raise UsageError(f"--size must be a number of bytes >= 1, got {args.size}")
    if args.url is not None and urllib.parse.urlsplit(args.url).scheme not in ("http", "https"):
        raise UsageError(f"--url must be an http:// or https:// address, got {args.url!r}")
    if not args.timeout > 0:
        raise UsageError(f"--timeout must be a number of seconds > 0, got {args.timeout}")
    if args.dir is not None and args.dir.exists() and not args.dir.is_dir():
        raise UsageError(f"--dir {str(args.dir)!r} is a file, expected a folder")


def download(args: argparse.Namespace) -> int:
    """Download each checkpoint asked for (or find it there already) and print its path."""
    _check(args)
    from tfprobe.models.download import checkpoint_dir, download_checkpoint

    folder = checkpoint_dir() if args.dir is None else args.dir
    for code in CODES if args.code == "all" else (args.code,):
        print(download_checkpoint(code, folder, url=args.url, size=args.size, timeout=args.timeout), flush=True)
    return 0


def add_download_command(commands: argparse._SubParsersAction) -> None:
    """Register ``download`` on ``commands`` (the sub-commands of ``tfprobe rnn``)."""
    parser = add_command(
        commands,
        "download",
        help="download the authors' trained checkpoints (OSF)",
        description=(
            "Download the authors' trained checkpoints of the recurrent network from the Open Science "
            "Framework: rnn_bglt_0111_t_4_num_1.pth (gain, lateral and top-down recurrence; --code bglt_0111, "
            "the default) and rnn_bglt_1011_t_4_num_1.pth (bias instead of gain; --code bglt_1011), "
            "100,598,907 bytes each, into --dir ($TFPROBE_HOME/checkpoints when TFPROBE_HOME is set, else "
            "~/.tfprobe/checkpoints). A file already there whole is not downloaded again. Each file's path is "
            "printed on its own line of standard output (progress goes to standard error).\n\n"
            "A download is written to <file>.part and renamed when complete; one that is cut short resumes "
            "where it stopped when the command is run again. Without a network the command fails within "
            "--timeout seconds and says where to put a copy downloaded by hand.\n\nexamples:\n"
            "  tfprobe rnn download\n"
            "  tfprobe rnn download --code all --dir checkpoints\n"
            "  tfprobe rnn download --url https://mirror.example.org/rnn_bglt_0111_t_4_num_1.pth --size 100598907"
        ),
    )
    parser.add_argument(
        "--code", choices=(*CODES, "all"), default=CODES[0], help=f"which checkpoint (default {CODES[0]})"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        help="folder to put it in, created if missing (default $TFPROBE_HOME/checkpoints or ~/.tfprobe/checkpoints)",
    )
    parser.add_argument("--url", help="download from this mirror instead of OSF (with one --code)")
    parser.add_argument("--size", type=int, metavar="BYTES", help="the mirror's file size in bytes (with --url)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds any one network operation may wait (default 10)",
    )
    parser.set_defaults(handler=download)
