"""The Textual interface. The only package that imports Textual; every
operation goes through `keydesk.service`."""
