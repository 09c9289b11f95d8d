"""The HTTP API (PiCloud's URL shapes): job status/result/info/kill/delete, published functions,
crons and accounts, with HTTP Basic auth by api_key:api_secretkey."""
