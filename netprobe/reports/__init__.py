"""Reports: rows with a fixed schema (units in column names), written as CSV or JSON."""
