"""One test module per snpmeasure command, and test_main.py for the command as a whole."""
