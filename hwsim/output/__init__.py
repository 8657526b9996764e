"""What people see: the command line, its text tables and the HTML reports."""
