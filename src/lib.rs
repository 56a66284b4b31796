//! Examples, behaviour tests and benchmarks for livenstore.
