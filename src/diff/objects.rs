//! The objects of a build folder, by identity, and what changed between
//! two: added, removed, and changed with the unified diff of their YAML.
//!
//! An object is a Kubernetes document (`kind`, namespace, name), wherever
//! the layout put it, so a tree build and a stream build of one program
//! hold the same objects. A YAML file that is no Kubernetes object (a
//! Prometheus configuration, a rule file, a rule test) is one object named
//! by its path. READMEs, kustomizations and `.envk/` are left out: they
//! follow from the objects and the meaning, and would only repeat them.

use std::collections::BTreeMap;

use serde::Serialize;

/// What an object is, across builds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectId {
    /// The cluster folder it is in, or `fleet` for `argocd/` and
    /// `global/`.
    pub group: String,
    /// Its `kind`, or what file it is (`file`).
    pub kind: String,
    pub namespace: Option<String>,
    /// Its `metadata.name`, or its path.
    pub name: String,
}

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            _ if self.kind == FILE => f.write_str(&self.name),
            Some(namespace) => write!(f, "{} {namespace}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// The group of the build's top-level folders that are no cluster's.
pub const FLEET: &str = "fleet";

/// The kind of a YAML file that is no Kubernetes object.
pub const FILE: &str = "file";

/// Every object of a build: its identity and its YAML text.
pub fn objects(files: &BTreeMap<String, String>) -> BTreeMap<ObjectId, String> {
    let mut objects = BTreeMap::new();
    for (path, text) in files {
        if !shown(path) {
            continue;
        }
        let group = match path.split_once('/') {
            Some(("argocd" | "global", _)) | None => FLEET.to_string(),
            Some((cluster, _)) => cluster.to_string(),
        };
        for document in documents(text) {
            let id = identity(&document).map_or_else(
                || ObjectId {
                    group: group.clone(),
                    kind: FILE.to_string(),
                    namespace: None,
                    name: path.clone(),
                },
                |(kind, namespace, name, argo_cd)| ObjectId {
                    // Argo CD's objects live on its server, whichever
                    // cluster's folder a layout writes them in.
                    group: if argo_cd {
                        FLEET.to_string()
                    } else {
                        group.clone()
                    },
                    kind,
                    namespace,
                    name,
                },
            );
            // A file of documents without identity is one object.
            objects
                .entry(id)
                .and_modify(|text: &mut String| {
                    text.push_str("---\n");
                    text.push_str(&document);
                })
                .or_insert(document);
        }
    }
    objects
}

/// Whether a file's objects are diffed: YAML, but kustomizations and
/// what is under a hidden folder (`.envk/`).
fn shown(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    path.ends_with(".yaml") && name != "kustomization.yaml" && !path.starts_with('.')
}

/// The documents of a YAML stream as written: split at `---` lines.
fn documents(text: &str) -> Vec<String> {
    let mut documents = vec![String::new()];
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            documents.push(String::new());
            continue;
        }
        documents.last_mut().expect("one at least").push_str(line);
    }
    documents.retain(|document| {
        document
            .lines()
            .any(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
    });
    documents
}

/// A Kubernetes document's kind, namespace and name, and whether it is
/// Argo CD's (`argoproj.io`); `None` for YAML that is not one.
fn identity(document: &str) -> Option<(String, Option<String>, String, bool)> {
    let value: serde_yaml::Value = serde_yaml::from_str(document).ok()?;
    let kind = value.get("kind")?.as_str()?.to_string();
    let argo_cd = value
        .get("apiVersion")?
        .as_str()?
        .starts_with("argoproj.io/");
    let metadata = value.get("metadata")?;
    let name = metadata.get("name")?.as_str()?.to_string();
    let namespace = metadata
        .get("namespace")
        .and_then(|namespace| namespace.as_str())
        .map(str::to_string);
    Some((kind, namespace, name, argo_cd))
}

/// One changed object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Changed {
    pub object: ObjectId,
    /// The unified diff of its YAML, secrets redacted.
    pub diff: String,
}

/// What changed between two builds' objects, in identity order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ObjectChanges {
    pub added: Vec<ObjectId>,
    pub removed: Vec<ObjectId>,
    pub changed: Vec<Changed>,
}

impl ObjectChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// The changes of every group, by group.
pub fn compare(
    old: &BTreeMap<ObjectId, String>,
    new: &BTreeMap<ObjectId, String>,
) -> BTreeMap<String, ObjectChanges> {
    let mut groups: BTreeMap<String, ObjectChanges> = BTreeMap::new();
    for (id, text) in old {
        match new.get(id) {
            None => groups
                .entry(id.group.clone())
                .or_default()
                .removed
                .push(id.clone()),
            Some(new_text) if new_text != text => groups
                .entry(id.group.clone())
                .or_default()
                .changed
                .push(Changed {
                    object: id.clone(),
                    diff: unified(&redact(text), &redact(new_text), &id.to_string()),
                }),
            Some(_) => {}
        }
    }
    for id in new.keys().filter(|id| !old.contains_key(id)) {
        groups
            .entry(id.group.clone())
            .or_default()
            .added
            .push(id.clone());
    }
    groups
}

/// A unified diff with three lines of context, headed by the object.
fn unified(old: &str, new: &str, name: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

/// Keys whose values are credentials, by how their names end.
const SECRET_KEYS: [&str; 7] = [
    "password",
    "token",
    "secret",
    "apikey",
    "api_key",
    "privatekey",
    "private_key",
];

/// The text with every credential replaced: a Secret's `data` and
/// `stringData` values, and any `key: value` whose key names a credential
/// (`password`, `client_secret`, `bearerToken`; a `…_file` key holds a
/// path, and is kept). envk writes credentials as files, never inline,
/// but a user's Helm values may hold one.
pub fn redact(text: &str) -> String {
    let secret_kind = text.lines().any(|line| line.trim_end() == "kind: Secret");
    let mut out = String::with_capacity(text.len());
    // The indentation of a Secret's `data:` or `stringData:` being inside.
    let mut inside: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if let Some(level) = inside {
            if trimmed.is_empty() || indent > level {
                out.push_str(&redacted_value(line).unwrap_or_else(|| line.to_string()));
                continue;
            }
            inside = None;
        }
        if secret_kind && (trimmed == "data:" || trimmed == "stringData:") {
            inside = Some(indent);
            out.push_str(line);
            continue;
        }
        let key = trimmed
            .trim_start_matches("- ")
            .split_once(':')
            .map(|(key, _)| {
                key.trim_matches(|c| c == '"' || c == '\'')
                    .to_ascii_lowercase()
            });
        let credential = key.is_some_and(|key| {
            SECRET_KEYS.iter().any(|secret| key.ends_with(secret)) && !key.ends_with("file")
        });
        match credential.then(|| redacted_value(line)).flatten() {
            Some(redacted) => out.push_str(&redacted),
            None => out.push_str(line),
        }
    }
    out
}

/// `key: <redacted>` for a `key: value` line with a value.
fn redacted_value(line: &str) -> Option<String> {
    let (key, value) = line.split_once(": ")?;
    let value = value.trim();
    if value.is_empty() || value == "|" || value == ">" {
        return None;
    }
    let end = if line.ends_with('\n') { "\n" } else { "" };
    Some(format!("{key}: <redacted>{end}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_named_by_identity_whatever_the_file() {
        let mut tree = BTreeMap::new();
        tree.insert(
            "c/namespaces/a/resourcequota.yaml".to_string(),
            "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: q\n  namespace: a\n"
                .to_string(),
        );
        let mut stream = BTreeMap::new();
        stream.insert(
            "c/namespaces.yaml".to_string(),
            "---\napiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: q\n  namespace: a\n"
                .to_string(),
        );
        assert_eq!(
            objects(&tree).into_keys().collect::<Vec<_>>(),
            objects(&stream).into_keys().collect::<Vec<_>>()
        );
        let id = objects(&tree).into_keys().next().unwrap();
        assert_eq!(id.to_string(), "ResourceQuota a/q");
        assert_eq!(id.group, "c");
    }

    #[test]
    fn credentials_are_redacted_and_paths_kept() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  key: c2VjcmV0\n  other: b3RoZXI=\ntype: Opaque\n";
        let redacted = redact(text);
        assert!(redacted.contains("  key: <redacted>\n  other: <redacted>\ntype: Opaque\n"));
        let values = "values:\n  password: hunter2\n  client_secret: abc\n  password_file: /etc/p\n  secretName: tls\n";
        assert_eq!(
            redact(values),
            "values:\n  password: <redacted>\n  client_secret: <redacted>\n  password_file: /etc/p\n  secretName: tls\n"
        );
    }

    #[test]
    fn a_changed_object_gets_its_unified_diff() {
        let quota = |cpu: &str| {
            format!(
                "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: q\n  namespace: a\nspec:\n  hard:\n    requests.cpu: '{cpu}'\n"
            )
        };
        let old = BTreeMap::from([("c/q.yaml".to_string(), quota("4"))]);
        let new = BTreeMap::from([("c/q.yaml".to_string(), quota("16"))]);
        let changes = compare(&objects(&old), &objects(&new));
        let diff = &changes["c"].changed[0].diff;
        assert!(
            diff.contains("-    requests.cpu: '4'\n+    requests.cpu: '16'\n"),
            "{diff}"
        );
        assert!(compare(&objects(&old), &objects(&old)).is_empty());
    }
}
