"""The therapists' pages. Thin: parse input with forms, call selectors and services, render."""
