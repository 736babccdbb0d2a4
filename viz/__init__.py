"""The report of a lazytensor graph dump: `python -m viz DUMP -o report.html`."""
