def evaluate(program_path):
    ns = {}
    exec(open(program_path).read(), ns)
    return {"combined_score": float(ns["x"])}
