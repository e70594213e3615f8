"""tickwatch's benchmarks: figures about the real pipeline on a self-contained local stack.

``python -m bench`` (``make bench``) starts its own Kafka broker and ClickHouse server in a
temporary state directory, runs the scenarios, prints a table of figures next to the project's
goals and writes them with a description of the machine to ``bench/results/``. Nothing here
asserts a timing; goals are reported, not enforced.
"""
