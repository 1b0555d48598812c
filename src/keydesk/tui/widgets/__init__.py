"""The widgets screens are built of, one module each (as Textual's own
`textual.widgets`): each owns its state and posts its own messages."""

from keydesk.tui.widgets.audit_log import AuditLog
from keydesk.tui.widgets.drop_down import DropDown
from keydesk.tui.widgets.filter_input import FilterInput, no_match
from keydesk.tui.widgets.fitted_table import Column, Fitted, FittedTable, fit
from keydesk.tui.widgets.footer import KeyFooter
from keydesk.tui.widgets.guarded_input import GuardedInput
from keydesk.tui.widgets.header import Header
from keydesk.tui.widgets.key_table import KeyTable, LoadedKeys
from keydesk.tui.widgets.line import Line
from keydesk.tui.widgets.list_table import ListOptions, ListTable
from keydesk.tui.widgets.pairs import Pairs
from keydesk.tui.widgets.scope_list import ScopeList

__all__ = [
    "AuditLog",
    "Column",
    "DropDown",
    "FilterInput",
    "Fitted",
    "FittedTable",
    "GuardedInput",
    "Header",
    "KeyFooter",
    "KeyTable",
    "Line",
    "ListOptions",
    "ListTable",
    "LoadedKeys",
    "Pairs",
    "ScopeList",
    "fit",
    "no_match",
]
