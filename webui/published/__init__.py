"""Published functions (cloud.rest): functions any of their owner's keys can invoke over HTTP,
and a record of each invocation's jobs."""
