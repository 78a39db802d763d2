"""SQL helpers: parsing, safety checks, skeletons and hardness."""
