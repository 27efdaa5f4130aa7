//! The state database: images, tags and containers in SQLite (WAL). It is the source of truth
//! for metadata; every change that is acknowledged to a client has been committed here.

use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Serialize, de::DeserializeOwned};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Each entry moves the schema from its index to the next version, in one transaction.
const MIGRATIONS: &[&str] = &[SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5];
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const SCHEMA_V1: &str = "
CREATE TABLE images (
    id      TEXT PRIMARY KEY,           -- sha256:<config digest>
    layers  TEXT NOT NULL,              -- JSON array of chain ids, bottom first
    size    INTEGER NOT NULL,           -- unpacked bytes of all layers
    added   INTEGER NOT NULL            -- unix seconds when it entered the store
);
CREATE TABLE tags (
    name     TEXT PRIMARY KEY,          -- familiar form, e.g. busybox:latest
    image_id TEXT NOT NULL REFERENCES images(id)
);
CREATE INDEX tags_by_image ON tags(image_id);
CREATE TABLE containers (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    image_id TEXT NOT NULL REFERENCES images(id),
    data     TEXT NOT NULL              -- the engine's Container record as JSON
);
";

const SCHEMA_V4: &str = "
CREATE TABLE digests (
    name     TEXT PRIMARY KEY,          -- familiar repo@sha256:..., as RepoDigests shows
    image_id TEXT NOT NULL REFERENCES images(id)
);
";

/// Builds: a RUN step's container starts from a layer chain whose image exists only in the
/// build cache, so a container's `image_id` may now be NULL (its layers still pin it: they are
/// in its record, which garbage collection reads). SQLite cannot relax a column constraint in
/// place, hence the copy. And the build cache itself.
const SCHEMA_V5: &str = "
CREATE TABLE containers_v5 (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    image_id TEXT REFERENCES images(id), -- NULL for a build step's container
    data     TEXT NOT NULL
);
INSERT INTO containers_v5 (id, name, image_id, data) SELECT id, name, image_id, data FROM containers;
DROP TABLE containers;
ALTER TABLE containers_v5 RENAME TO containers;
CREATE TABLE build_cache (
    key         TEXT PRIMARY KEY,       -- berth_build::CacheKey
    step        TEXT NOT NULL,          -- berth_build::CachedStep as JSON
    layers      TEXT NOT NULL,          -- JSON array of its chain ids, for garbage collection
    description TEXT NOT NULL,          -- the step's history line, for `system df -v`
    created     INTEGER NOT NULL,       -- unix seconds
    last_used   INTEGER NOT NULL,
    uses        INTEGER NOT NULL        -- cache hits
);
";

const SCHEMA_V3: &str = "
CREATE TABLE networks (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL                  -- the engine's Network record as JSON
);
";

const SCHEMA_V2: &str = "
CREATE TABLE volumes (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL                  -- the engine's Volume record as JSON
);
";

/// An image as the database knows it (its config lives in the content store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    pub id: String,
    pub layers: Vec<String>,
    pub size: u64,
    pub added: i64,
}

pub struct Db {
    conn: Mutex<Connection>,
}

impl Db {
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)
            .map_err(|e| Error::internal(format!("open {}: {e}", path.display())))?;
        // WAL + NORMAL survives a killed process (the kernel holds the writes); FULL would only
        // add protection against power loss at the price of an fsync per commit.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Error::internal(format!(
                "{}: schema version {version} is newer than this berthd understands ({SCHEMA_VERSION})",
                path.display()
            )));
        }
        for (from, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(migration)?;
            tx.pragma_update(None, "user_version", from as i64 + 1)?;
            tx.commit()?;
        }
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll
        // back), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ---- images and tags ----

    /// Records an image and points `tags` at it (moving them from any other image), atomically.
    pub fn put_image(&self, image: &ImageRow, tags: &[String]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO images (id, layers, size, added) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO NOTHING",
            params![
                image.id,
                to_json(&image.layers),
                image.size as i64,
                image.added
            ],
        )?;
        for tag in tags {
            tx.execute(
                "INSERT INTO tags (name, image_id) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
                params![tag, image.id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn image(&self, id: &str) -> Result<Option<ImageRow>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, layers, size, added FROM images WHERE id = ?1",
                [id],
                image_row,
            )
            .optional()?)
    }

    pub fn images(&self) -> Result<Vec<ImageRow>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id, layers, size, added FROM images ORDER BY added DESC")?;
        let rows = stmt
            .query_map([], image_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Image ids starting with `sha256:<prefix>`.
    pub fn image_ids_with_prefix(&self, hex_prefix: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id FROM images WHERE substr(id, 8, ?2) = ?1")?;
        let rows = stmt
            .query_map(params![hex_prefix, hex_prefix.len() as i64], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(rows)
    }

    pub fn tag_target(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Every (tag, image id), sorted by tag.
    pub fn tags(&self) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name, image_id FROM tags ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn tags_of(&self, image_id: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name FROM tags WHERE image_id = ?1 ORDER BY name")?;
        let rows = stmt
            .query_map([image_id], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn set_tag(&self, name: &str, image_id: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO tags (name, image_id) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
            params![name, image_id],
        )?;
        Ok(())
    }

    pub fn set_digest(&self, name: &str, image_id: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO digests (name, image_id) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
            params![name, image_id],
        )?;
        Ok(())
    }

    pub fn digests_of(&self, image_id: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT name FROM digests WHERE image_id = ?1 ORDER BY name")?;
        let rows = stmt
            .query_map([image_id], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn delete_tag(&self, name: &str) -> Result<bool> {
        Ok(self
            .conn()
            .execute("DELETE FROM tags WHERE name = ?1", [name])?
            > 0)
    }

    /// Removes an image and its tags in one transaction.
    pub fn delete_image(&self, id: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM tags WHERE image_id = ?1", [id])?;
        tx.execute("DELETE FROM digests WHERE image_id = ?1", [id])?;
        tx.execute("DELETE FROM images WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(())
    }

    // ---- containers ----

    /// Docker's 409 when `name` belongs to another container.
    fn ensure_name_free(conn: &Connection, name: &str) -> Result<()> {
        let taken: Option<String> = conn
            .query_row("SELECT id FROM containers WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        match taken {
            Some(owner) => Err(Error::conflict(format!(
                "Conflict. The container name \"/{name}\" is already in use by container \"{owner}\". \
                 You have to remove (or rename) that container to be able to reuse that name."
            ))),
            None => Ok(()),
        }
    }

    /// Inserts a new container; a taken name is Docker's 409 conflict. `image_id` is the image
    /// record it pins, None for a build step's container.
    pub fn insert_container<T: Serialize>(
        &self,
        id: &str,
        name: &str,
        image_id: Option<&str>,
        data: &T,
    ) -> Result<()> {
        let conn = self.conn();
        Self::ensure_name_free(&conn, name)?;
        conn.execute(
            "INSERT INTO containers (id, name, image_id, data) VALUES (?1, ?2, ?3, ?4)",
            params![id, name, image_id, to_json(data)],
        )?;
        Ok(())
    }

    /// Gives a container a new name (and its updated record) in one statement.
    pub fn rename_container<T: Serialize>(&self, id: &str, name: &str, data: &T) -> Result<()> {
        let conn = self.conn();
        Self::ensure_name_free(&conn, name)?;
        conn.execute(
            "UPDATE containers SET name = ?2, data = ?3 WHERE id = ?1",
            params![id, name, to_json(data)],
        )?;
        Ok(())
    }

    pub fn update_container<T: Serialize>(&self, id: &str, data: &T) -> Result<()> {
        let n = self.conn().execute(
            "UPDATE containers SET data = ?2 WHERE id = ?1",
            params![id, to_json(data)],
        )?;
        if n == 0 {
            return Err(Error::no_such_container(id));
        }
        Ok(())
    }

    pub fn container<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>> {
        let data: Option<String> = self
            .conn()
            .query_row("SELECT data FROM containers WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        data.map(|d| from_json(&d)).transpose()
    }

    pub fn containers<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT data FROM containers")?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter().map(|d| from_json(d)).collect()
    }

    /// (id, name) of every container, to resolve what a user typed.
    pub fn container_names(&self) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id, name FROM containers")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Ids of containers created from `image_id`.
    pub fn containers_using(&self, image_id: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id FROM containers WHERE image_id = ?1")?;
        let rows = stmt
            .query_map([image_id], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn delete_container(&self, id: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM containers WHERE id = ?1", [id])?;
        Ok(())
    }
}

impl Db {
    // ---- volumes ----

    /// Inserts a volume; false when one of that name exists already.
    pub fn insert_volume<T: Serialize>(&self, name: &str, data: &T) -> Result<bool> {
        let n = self.conn().execute(
            "INSERT INTO volumes (name, data) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
            params![name, to_json(data)],
        )?;
        Ok(n == 1)
    }

    pub fn update_volume<T: Serialize>(&self, name: &str, data: &T) -> Result<()> {
        self.conn().execute(
            "UPDATE volumes SET data = ?2 WHERE name = ?1",
            params![name, to_json(data)],
        )?;
        Ok(())
    }

    pub fn volume<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let data: Option<String> = self
            .conn()
            .query_row("SELECT data FROM volumes WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        data.map(|d| from_json(&d)).transpose()
    }

    pub fn volumes<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT data FROM volumes ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter().map(|d| from_json(d)).collect()
    }

    // ---- networks ----

    /// Inserts a network; a taken name is Docker's 409.
    pub fn insert_network<T: Serialize>(&self, id: &str, name: &str, data: &T) -> Result<()> {
        let n = self.conn().execute(
            "INSERT INTO networks (id, name, data) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            params![id, name, to_json(data)],
        )?;
        if n == 0 {
            return Err(Error::conflict(format!(
                "network with name {name} already exists"
            )));
        }
        Ok(())
    }

    pub fn update_network<T: Serialize>(&self, id: &str, data: &T) -> Result<()> {
        self.conn().execute(
            "UPDATE networks SET data = ?2 WHERE id = ?1",
            params![id, to_json(data)],
        )?;
        Ok(())
    }

    pub fn network<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>> {
        let data: Option<String> = self
            .conn()
            .query_row("SELECT data FROM networks WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        data.map(|d| from_json(&d)).transpose()
    }

    pub fn networks<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT data FROM networks ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter().map(|d| from_json(d)).collect()
    }

    pub fn delete_network(&self, id: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM networks WHERE id = ?1", [id])?;
        Ok(())
    }

    pub fn delete_volume(&self, name: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM volumes WHERE name = ?1", [name])?;
        Ok(())
    }
}

/// A build cache entry as `system df` and `build prune` see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildCacheRow {
    pub key: String,
    /// Chain ids of the step's image, bottom first.
    pub layers: Vec<String>,
    pub description: String,
    pub created: i64,
    pub last_used: i64,
    pub uses: u64,
}

impl Db {
    // ---- build cache ----

    /// The step recorded under `key` (as JSON), counting a use at `now`.
    pub fn build_cache_get(&self, key: &str, now: i64) -> Result<Option<String>> {
        let conn = self.conn();
        let step = conn
            .query_row("SELECT step FROM build_cache WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?;
        if step.is_some() {
            conn.execute(
                "UPDATE build_cache SET last_used = ?2, uses = uses + 1 WHERE key = ?1",
                params![key, now],
            )?;
        }
        Ok(step)
    }

    /// Records a step; an entry with the same key is replaced, keeping its history.
    pub fn build_cache_put(
        &self,
        key: &str,
        step_json: &str,
        layers: &[String],
        description: &str,
        now: i64,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO build_cache (key, step, layers, description, created, last_used, uses)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0)
             ON CONFLICT(key) DO UPDATE SET step = excluded.step, layers = excluded.layers,
                 description = excluded.description, last_used = excluded.last_used",
            params![key, step_json, to_json(layers), description, now],
        )?;
        Ok(())
    }

    pub fn build_cache_delete(&self, key: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM build_cache WHERE key = ?1", [key])?;
        Ok(())
    }

    /// Every entry, least recently used first.
    pub fn build_cache_entries(&self) -> Result<Vec<BuildCacheRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT key, layers, description, created, last_used, uses
             FROM build_cache ORDER BY last_used, key",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(key, layers, description, created, last_used, uses)| {
                Ok(BuildCacheRow {
                    key,
                    layers: from_json(&layers)?,
                    description,
                    created,
                    last_used,
                    uses: uses as u64,
                })
            })
            .collect()
    }
}

fn image_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ImageRow> {
    let layers: String = r.get(1)?;
    Ok(ImageRow {
        id: r.get(0)?,
        layers: serde_json::from_str(&layers).unwrap_or_default(),
        size: r.get::<_, i64>(2)? as u64,
        added: r.get(3)?,
    })
}

fn to_json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).expect("engine records always serialize")
}

fn from_json<T: DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s)
        .map_err(|e| Error::internal(format!("corrupt record in state database: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("berth.db")).unwrap();
        (dir, db)
    }

    fn image(id: &str) -> ImageRow {
        ImageRow {
            id: id.into(),
            layers: vec!["sha256:l1".into()],
            size: 10,
            added: 1,
        }
    }

    #[test]
    fn tags_move_between_images() {
        let (_d, db) = db();
        db.put_image(&image("sha256:aa"), &["x:latest".into()])
            .unwrap();
        db.put_image(&image("sha256:bb"), &["x:latest".into()])
            .unwrap();
        assert_eq!(
            db.tag_target("x:latest").unwrap().as_deref(),
            Some("sha256:bb")
        );
        assert!(db.tags_of("sha256:aa").unwrap().is_empty());
        assert_eq!(
            db.image_ids_with_prefix("b").unwrap(),
            vec!["sha256:bb".to_string()]
        );
        db.delete_image("sha256:bb").unwrap();
        assert_eq!(db.tag_target("x:latest").unwrap(), None);
        assert_eq!(
            db.image("sha256:aa").unwrap().unwrap().layers,
            vec!["sha256:l1"]
        );
    }

    #[test]
    fn container_names_are_unique() {
        let (_d, db) = db();
        db.put_image(&image("sha256:aa"), &[]).unwrap();
        db.insert_container("c1", "web", Some("sha256:aa"), &serde_json::json!({"n": 1}))
            .unwrap();
        let err = db
            .insert_container("c2", "web", None, &serde_json::json!({}))
            .unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::Conflict);
        assert!(
            err.message
                .contains("\"/web\" is already in use by container \"c1\"")
        );
        let back: serde_json::Value = db.container("c1").unwrap().unwrap();
        assert_eq!(back["n"], 1);
        assert_eq!(
            db.containers_using("sha256:aa").unwrap(),
            vec!["c1".to_string()]
        );
    }

    #[test]
    fn build_cache_entries_are_replaced_and_counted() {
        let (_d, db) = db();
        db.build_cache_put("k", "{}", &["sha256:l1".into()], "RUN a", 1)
            .unwrap();
        db.build_cache_put("k", "{\"a\":1}", &["sha256:l2".into()], "RUN b", 2)
            .unwrap();
        assert_eq!(
            db.build_cache_get("k", 3).unwrap().as_deref(),
            Some("{\"a\":1}")
        );
        let rows = db.build_cache_entries().unwrap();
        assert_eq!(
            rows,
            [BuildCacheRow {
                key: "k".into(),
                layers: vec!["sha256:l2".into()],
                description: "RUN b".into(),
                created: 1,
                last_used: 3,
                uses: 1,
            }]
        );
        db.build_cache_delete("k").unwrap();
        assert_eq!(db.build_cache_get("k", 4).unwrap(), None);
    }

    #[test]
    fn version_5_keeps_containers_and_lets_build_steps_have_no_image() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.db");
        {
            let conn = Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..4] {
                conn.execute_batch(migration).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute_batch(
                "INSERT INTO images VALUES ('sha256:aa', '[]', 0, 0);
                 INSERT INTO containers VALUES ('c1', 'web', 'sha256:aa', '{\"n\": 1}');",
            )
            .unwrap();
        }
        let db = Db::open(&path).unwrap();
        assert_eq!(db.containers_using("sha256:aa").unwrap(), ["c1"]);
        let back: serde_json::Value = db.container("c1").unwrap().unwrap();
        assert_eq!(back["n"], 1);
        db.insert_container("c2", "step", None, &serde_json::json!({}))
            .unwrap();
        // An image record that does not exist is still refused.
        assert!(
            db.insert_container("c3", "bad", Some("sha256:zz"), &serde_json::json!({}))
                .is_err()
        );
    }

    #[test]
    fn reopening_keeps_everything() {
        let (dir, db) = db();
        db.put_image(&image("sha256:aa"), &["a:1".into()]).unwrap();
        drop(db);
        let db = Db::open(&dir.path().join("berth.db")).unwrap();
        assert_eq!(
            db.tags().unwrap(),
            vec![("a:1".to_string(), "sha256:aa".to_string())]
        );
    }
}
