"""API keys: who may submit jobs; secrets stored only as a slow hash and a public key."""
