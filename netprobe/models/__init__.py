"""A MODEL argument made ready: ``resolve`` it to a source, ``materialize`` it as a module, feed it ``example_inputs``."""
