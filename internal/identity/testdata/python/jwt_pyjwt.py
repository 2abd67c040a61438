"""Signs and verifies identity JWTs with PyJWT, for the cross-checks in
internal/identity (jwt_node_test.go), as testdata/node/jwt.mjs does with
Node's libraries. PyPI is not reachable from the development machines;
PyJWT comes from Debian's python3-jwt package (PyJWT 2.6.0), so run it with
the system Python: /usr/bin/python3.

Reads a JSON array of jobs on stdin and writes the same array with results,
one job a line:

  {"op": "sign", "secret", "payload", "alg"?, "header"?}  -> "token"
  {"op": "verify", "secret", "token"}                      -> "ok", "sub", "traits" or "error"

(verify uses the current time: PyJWT 2.6 cannot be given another.) Jobs of
the case file that name another library are signed by PyJWT instead.

Regenerate the committed vectors (from internal/identity):
  /usr/bin/python3 testdata/python/jwt_pyjwt.py < testdata/node/jwt_cases.json > testdata/jwt_vectors_pyjwt.json
"""
import json
import sys

import jwt


def run(job):
    out = dict(job)
    try:
        if job["op"] == "sign":
            out["lib"] = "pyjwt"
            alg = job.get("alg", "HS256")
            key = None if alg == "none" else job["secret"]
            out["token"] = jwt.encode(job["payload"], key, algorithm=alg, headers=job.get("header"))
        else:
            p = jwt.decode(job["token"], job["secret"], algorithms=["HS256"], leeway=60,
                           options={"verify_aud": False})
            out["ok"] = True
            out["sub"] = p.get("sub")
            if "traits" in p:
                out["traits"] = json.dumps(p["traits"])
    except Exception as e:  # the job's result, not a failure of the script
        out["error"] = f"{type(e).__name__}: {e}"
    return out


jobs = json.load(sys.stdin)
if jobs and jobs[0].get("op") == "sign" and "note" in jobs[0]:
    jobs = [j for j in jobs if j.get("lib") == "jsonwebtoken"]  # one of each case
sys.stdout.write("[\n" + ",\n".join("  " + json.dumps(run(j)) for j in jobs) + "\n]\n")
