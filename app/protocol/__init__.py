"""The OpenAI API we serve: request models (validated at the edge) and reply shapes (typed dicts)."""
