//! `process.user`: switching to the container's uid, gid and supplementary groups, and the
//! `HOME` a process gets from the image's `/etc/passwd` when the spec sets none.

use rustix::process::{Gid, Uid};

use crate::error::SetupError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserPlan {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

impl UserPlan {
    /// Sets groups, then gid, then uid (each for the real, effective and saved ids). Called with
    /// `PR_SET_KEEPCAPS` on so that the permitted capabilities survive leaving uid 0.
    pub(crate) fn switch(&self) -> Result<(), SetupError> {
        let groups: Vec<Gid> = self
            .additional_gids
            .iter()
            .map(|g| Gid::from_raw(*g))
            .collect();
        rustix::thread::set_thread_groups(&groups).map_err(|e| SetupError::sys("setgroups", e))?;
        let gid = Gid::from_raw(self.gid);
        rustix::thread::set_thread_res_gid(gid, gid, gid)
            .map_err(|e| SetupError::sys("setresgid", e))?;
        let uid = Uid::from_raw(self.uid);
        rustix::thread::set_thread_res_uid(uid, uid, uid)
            .map_err(|e| SetupError::sys("setresuid", e))?;
        Ok(())
    }
}

/// The home directory of `uid` in an `/etc/passwd` text (`name:x:uid:gid:gecos:home:shell`).
pub(crate) fn home_in_passwd(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        let entry_uid: u32 = fields.get(2)?.parse().ok()?;
        let home = fields.get(5)?;
        (entry_uid == uid && !home.is_empty()).then(|| home.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_comes_from_the_matching_passwd_line() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\n# comment\nbad line\nnobody:x:65534:65534::/nonexistent:\nweb:x:33:33::/var/www:/bin/false\n";
        assert_eq!(home_in_passwd(passwd, 0).as_deref(), Some("/root"));
        assert_eq!(home_in_passwd(passwd, 33).as_deref(), Some("/var/www"));
        assert_eq!(home_in_passwd(passwd, 1000), None);
    }
}
