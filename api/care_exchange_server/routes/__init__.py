"""HTTP routes: parse, authorise, shape responses; the rules live in `services`."""
