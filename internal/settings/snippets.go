package settings

import "github.com/sendora/sendora/web/templates/pages"

// The signing snippets shown with a new secret. Each produces exactly the
// reference Node signer's output (DESIGN.md §1): "hmac_v1:" and the
// lowercase hex HMAC-SHA256 of the userId's UTF-8 bytes, keyed by the whole
// secret string, "sis_" included. They read the secret from the
// environment, so it never lands in source code.
const nodeSnippet = `import { createHmac } from "node:crypto";
export function signIdentity(userId: string) {
  const mac = createHmac("sha256", process.env.SENDORA_IDENTITY_SECRET!).update(userId).digest("hex");
  return ` + "`hmac_v1:${mac}`" + `;
}`

const goSnippet = `import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
)

func SignIdentity(userID string) string {
	mac := hmac.New(sha256.New, []byte(os.Getenv("SENDORA_IDENTITY_SECRET")))
	mac.Write([]byte(userID))
	return "hmac_v1:" + hex.EncodeToString(mac.Sum(nil))
}`

const pythonSnippet = `import hashlib
import hmac
import os

def sign_identity(user_id: str) -> str:
    secret = os.environ["SENDORA_IDENTITY_SECRET"].encode("utf-8")
    mac = hmac.new(secret, user_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"hmac_v1:{mac}"`

func snippets() []pages.Snippet {
	return []pages.Snippet{
		{ID: "snippet-node", Language: "Node.js (TypeScript)", Code: nodeSnippet},
		{ID: "snippet-go", Language: "Go", Code: goSnippet},
		{ID: "snippet-python", Language: "Python", Code: pythonSnippet},
	}
}

// The JWT signing snippets shown with a new secret, beside the hmac_v1
// ones, and in docs/sdk.md word for word (TestJWTSnippetsInTheDocs). Each
// signs sub, iat, exp one hour ahead and the optional signed traits with
// HS256 under the secret from the environment; TestJWTSnippetsVerify runs
// each in its runtime and verifies the token with the server's keyring.
const jwtNodeSnippet = `import jwt from "jsonwebtoken";
export function signIdentity(userId, traits) {
  return jwt.sign({ sub: userId, traits }, process.env.SENDORA_IDENTITY_SECRET,
    { algorithm: "HS256", expiresIn: "1h" });
}`

const jwtGoSnippet = `import (
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func SignIdentity(userID string, traits map[string]any) (string, error) {
	now := time.Now()
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": userID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "traits": traits,
	}).SignedString([]byte(os.Getenv("SENDORA_IDENTITY_SECRET")))
}`

const jwtPythonSnippet = `import os
import time

import jwt  # PyJWT

def sign_identity(user_id: str, traits: dict | None = None) -> str:
    now = int(time.time())
    claims = {"sub": user_id, "iat": now, "exp": now + 3600}
    if traits:
        claims["traits"] = traits
    return jwt.encode(claims, os.environ["SENDORA_IDENTITY_SECRET"], algorithm="HS256")`

func jwtSnippets() []pages.Snippet {
	return []pages.Snippet{
		{ID: "jwt-snippet-node", Language: "Node.js, with jsonwebtoken", Code: jwtNodeSnippet},
		{ID: "jwt-snippet-go", Language: "Go, with golang-jwt v5", Code: jwtGoSnippet},
		{ID: "jwt-snippet-python", Language: "Python, with PyJWT 2", Code: jwtPythonSnippet},
	}
}
