def render(*a): return ""
