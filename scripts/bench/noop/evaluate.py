import json
import os

ns = {}
exec(open(os.environ["ASI_EVOLVE_CANDIDATE"]).read(), ns)
with open(os.environ["ASI_EVOLVE_RESULTS"], "w") as out:
    json.dump({"score": float(ns["x"])}, out)
