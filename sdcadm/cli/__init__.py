"""The click shell: parse -> call -> render -> exit status. No decisions live here."""
