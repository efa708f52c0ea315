"""The common records of Safer Together: reference lists and typed record shapes."""
