-- The Hugging Face-compatible surface: git blob ids (SHA-1 of
-- "blob <size>\0" + content), computed once per blob and kept here, since
-- the Hub clients compare them with their local files.
CREATE TABLE hf_git_oids (
    sha256 TEXT PRIMARY KEY,
    git_oid TEXT NOT NULL
);
