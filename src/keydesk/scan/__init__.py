"""Find leaked private keys: in files, on stdin, in git history, in what is staged.

`run_scan` (pipeline) is the one entry point `keydesk scan` and the TUI use:
files and folders (files; a big walk on idle cores: spread) or git (git,
patch, git_blobs) are read as streams (streams; UTF-16/32 text: text), keys
matched in them (matching; escaped keys: decode; libc's memmem: search),
allow-listed ones left out (allow), and each key reported as a `Finding` or
what was not read as a `Skipped` note (events).

The package is pure: no store, no screen. Callers pass what looks a key up.
"""

from keydesk.scan.allow import ALLOW_FILE, allowed_in, find_allow_list, read_allow_list
from keydesk.scan.events import Finding, ScanEvent, SkipCount, Skipped
from keydesk.scan.files import scan_paths
from keydesk.scan.git import scan_git_history, scan_staged
from keydesk.scan.pipeline import ScanRequest, Sighting, run_scan
from keydesk.scan.shown import STDIN
from keydesk.scan.streams import CHUNK_SIZE, scan_bytes, scan_stream
from keydesk.scan.text import Readable

__all__ = [
    "ALLOW_FILE",
    "CHUNK_SIZE",
    "STDIN",
    "Finding",
    "Readable",
    "ScanEvent",
    "ScanRequest",
    "Sighting",
    "SkipCount",
    "Skipped",
    "allowed_in",
    "find_allow_list",
    "read_allow_list",
    "run_scan",
    "scan_bytes",
    "scan_git_history",
    "scan_paths",
    "scan_staged",
    "scan_stream",
]
