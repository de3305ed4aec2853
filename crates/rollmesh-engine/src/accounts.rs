//! The people who use a node: clerk accounts with a role, kept per node in `<data>/users.json` (mode 0600),
//! passwords hashed with argon2id (PHC strings; the password itself is never stored), and the node
//! owner's API token `<data>/api.token` (0600), which the local CLI presents instead of a password, the
//! way Syncthing's API key works. Accounts are local: they never travel in changes or bundles.
//!
//! Roles are ordered: a higher role may do everything a lower one may.
//! - `viewer` reads members, ledgers, reports and flags;
//! - `clerk` also adds, edits and imports members and records meetings, dues, ratings and sheets;
//! - `approver` also takes decisions (publishing the organisation's documents, granting attachments);
//! - `admin` also manages accounts, credentials and the quarantine.

use std::fs;
use std::path::{Path, PathBuf};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

use crate::error::io_err;
use crate::msg;
use crate::NodeError;

/// The accounts file of a data directory.
pub const USERS_FILE: &str = "users.json";
/// The owner's API token file of a data directory.
pub const TOKEN_FILE: &str = "api.token";
/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 8;

/// What an account may do (ordered: each role includes the ones before it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads only.
    Viewer,
    /// Reads and records the daily work.
    Clerk,
    /// Also takes decisions.
    Approver,
    /// Also manages accounts, credentials and the quarantine.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Clerk, Role::Approver, Role::Admin];

    /// The key used in files, the API and the CLI.
    pub fn key(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Clerk => "clerk",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// The Vietnamese name a clerk reads.
    pub fn label_vi(self) -> &'static str {
        match self {
            Role::Viewer => "xem",
            Role::Clerk => "văn thư",
            Role::Approver => "phê duyệt",
            Role::Admin => "quản trị",
        }
    }

    /// A role from its key or its Vietnamese name.
    pub fn parse(s: &str) -> Result<Role, NodeError> {
        let t = s.trim().to_lowercase();
        Role::ALL
            .into_iter()
            .find(|r| r.key() == t || r.label_vi() == t)
            .ok_or_else(|| {
                NodeError::Refused(msg!(
                    "vai trò không rõ: {s:?} (xem, văn thư, phê duyệt, quản trị — hoặc viewer, clerk, approver, admin)",
                    "unknown role: {s:?} (viewer, clerk, approver, admin)"
                ))
            })
    }
}

/// One account as stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Account {
    /// The login name: lowercase ASCII letters, digits, `.`, `_`, `-`; 1–32 characters.
    pub login: String,
    /// The person's full name, as the audit and histories show it.
    pub full_name: String,
    /// What the account may do.
    pub role: Role,
    /// The argon2id hash (PHC string) of the password.
    pub hash: String,
    /// A disabled account cannot sign in; its past entries keep naming it.
    #[serde(default)]
    pub disabled: bool,
    /// Unix time the account was created.
    pub created: i64,
}

impl Account {
    /// How audit entries and histories name the person: `login (Full Name)`.
    pub fn person(&self) -> String {
        if self.full_name.is_empty() {
            self.login.clone()
        } else {
            format!("{} ({})", self.login, self.full_name)
        }
    }
}

#[derive(Default, Serialize, Deserialize)]
struct UsersFile {
    users: Vec<Account>,
}

/// The accounts of one data directory. Every call reads the file afresh, so the CLI (node stopped) and a
/// running node see the same accounts; writes replace the file atomically.
#[derive(Clone, Debug)]
pub struct Accounts {
    path: PathBuf,
}

fn refused(vi: String, en: String) -> NodeError {
    NodeError::Refused(if crate::i18n::is_en() { en } else { vi })
}

/// True for a name an account can have: 1–32 of a-z, 0-9, `.`, `_`, `-`.
pub fn valid_login(login: &str) -> bool {
    !login.is_empty()
        && login.len() <= 32
        && login
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// Checks a login name.
fn check_login(login: &str) -> Result<(), NodeError> {
    if valid_login(login) {
        Ok(())
    } else {
        Err(refused(
            format!("tên đăng nhập {login:?} không hợp lệ: 1-32 ký tự a-z, 0-9, '.', '_', '-'"),
            format!("login {login:?} is not valid: 1-32 characters a-z, 0-9, '.', '_', '-'"),
        ))
    }
}

fn check_password(password: &str) -> Result<(), NodeError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(refused(
            format!("mật khẩu quá ngắn: cần ít nhất {MIN_PASSWORD} ký tự"),
            format!("the password is too short: at least {MIN_PASSWORD} characters"),
        ));
    }
    Ok(())
}

fn hash_password(password: &str) -> Result<String, NodeError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| NodeError::Internal(format!("argon2: {e}")))
}

/// Why a sign-in failed. Deliberately one answer for a wrong name and a wrong password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInError {
    /// Unknown login or wrong password.
    Wrong,
    /// The account is disabled.
    Disabled,
}

impl Accounts {
    /// The accounts of the data directory `dir`.
    pub fn of(dir: &Path) -> Accounts {
        Accounts {
            path: dir.join(USERS_FILE),
        }
    }

    fn load(&self) -> Result<UsersFile, NodeError> {
        if !self.path.exists() {
            return Ok(UsersFile::default());
        }
        let text = fs::read_to_string(&self.path).map_err(io_err(&self.path))?;
        serde_json::from_str(&text).map_err(|e| NodeError::Config {
            path: self.path.clone(),
            detail: e.to_string(),
        })
    }

    fn save(&self, f: &UsersFile) -> Result<(), NodeError> {
        let body = serde_json::to_vec_pretty(f).map_err(|e| NodeError::Internal(e.to_string()))?;
        let tmp = self.path.with_extension("json.tmp");
        let _ = fs::remove_file(&tmp);
        crate::credentials::write_private(&tmp, &body)?;
        fs::rename(&tmp, &self.path).map_err(io_err(&self.path))?;
        crate::node::set_mode(&self.path, 0o600)
    }

    /// Every account, by login.
    pub fn list(&self) -> Result<Vec<Account>, NodeError> {
        let mut users = self.load()?.users;
        users.sort_by(|a, b| a.login.cmp(&b.login));
        Ok(users)
    }

    /// One account.
    pub fn get(&self, login: &str) -> Result<Option<Account>, NodeError> {
        Ok(self.load()?.users.into_iter().find(|u| u.login == login))
    }

    /// Adds an account; refuses a login that exists or a short password.
    pub fn add(
        &self,
        login: &str,
        full_name: &str,
        role: Role,
        password: &str,
    ) -> Result<Account, NodeError> {
        check_login(login)?;
        check_password(password)?;
        let full_name = rollmesh_model::text::clean(full_name);
        if full_name.chars().any(rollmesh_model::text::is_hidden) || full_name.len() > 200 {
            return Err(refused(
                format!("họ tên {full_name:?} không hợp lệ"),
                format!("full name {full_name:?} is not valid"),
            ));
        }
        let mut f = self.load()?;
        if f.users.iter().any(|u| u.login == login) {
            return Err(refused(
                format!("tài khoản {login} đã có"),
                format!("account {login} already exists"),
            ));
        }
        let account = Account {
            login: login.to_string(),
            full_name,
            role,
            hash: hash_password(password)?,
            disabled: false,
            created: chrono::Utc::now().timestamp(),
        };
        f.users.push(account.clone());
        self.save(&f)?;
        Ok(account)
    }

    fn update(&self, login: &str, g: impl FnOnce(&mut Account)) -> Result<Account, NodeError> {
        let mut f = self.load()?;
        let Some(u) = f.users.iter_mut().find(|u| u.login == login) else {
            return Err(refused(
                format!("không có tài khoản {login}"),
                format!("no account {login}"),
            ));
        };
        g(u);
        let out = u.clone();
        self.save(&f)?;
        Ok(out)
    }

    /// Sets a new password.
    pub fn set_password(&self, login: &str, password: &str) -> Result<Account, NodeError> {
        // An unknown account is the first thing to say.
        if self.get(login)?.is_none() {
            return self.update(login, |_| {});
        }
        check_password(password)?;
        let hash = hash_password(password)?;
        self.update(login, |u| u.hash = hash)
    }

    /// Disables (or, with `disabled = false`, enables again) an account.
    pub fn set_disabled(&self, login: &str, disabled: bool) -> Result<Account, NodeError> {
        self.update(login, |u| u.disabled = disabled)
    }

    /// Changes an account's role.
    pub fn set_role(&self, login: &str, role: Role) -> Result<Account, NodeError> {
        self.update(login, |u| u.role = role)
    }

    /// Checks a login and password. The hash is computed even for an unknown login, so the answer takes
    /// the same time either way.
    pub fn sign_in(&self, login: &str, password: &str) -> Result<Account, SignInError> {
        let account = self.get(login).ok().flatten();
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let hash = match &account {
            Some(a) => a.hash.clone(),
            // The hash of a random password: the same work as a real check.
            None => DUMMY
                .get_or_init(|| hash_password(&random_token()).unwrap_or_default())
                .clone(),
        };
        let ok = PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
        match account {
            Some(a) if ok && a.disabled => Err(SignInError::Disabled),
            Some(a) if ok => Ok(a),
            _ => Err(SignInError::Wrong),
        }
    }
}

/// The owner's API token of `dir`, created (32 random bytes, hex, mode 0600) if there is none.
pub fn owner_token(dir: &Path) -> Result<String, NodeError> {
    let path = dir.join(TOKEN_FILE);
    if let Some(t) = read_owner_token(dir)? {
        crate::node::set_mode(&path, 0o600)?;
        return Ok(t);
    }
    let token = random_token();
    let _ = fs::remove_file(&path);
    crate::credentials::write_private(&path, format!("{token}\n").as_bytes())?;
    Ok(token)
}

/// The owner's API token of `dir`, if one was written.
pub fn read_owner_token(dir: &Path) -> Result<Option<String>, NodeError> {
    let path = dir.join(TOKEN_FILE);
    match fs::read_to_string(&path) {
        Ok(t) if t.trim().len() == 64 => Ok(Some(t.trim().to_string())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// 32 random bytes as 64 hex characters (session and API tokens).
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_stored_as_an_argon2id_hash_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let acc = Accounts::of(dir.path());
        let a = acc
            .add("hoa", "Trần Thị Hoa", Role::Clerk, "mật khẩu dài")
            .unwrap();
        assert!(a.hash.starts_with("$argon2id$"), "{}", a.hash);
        let text = fs::read_to_string(dir.path().join(USERS_FILE)).unwrap();
        assert!(!text.contains("mật khẩu dài"));
        assert_eq!(
            acc.sign_in("hoa", "mật khẩu dài").unwrap().role,
            Role::Clerk
        );
        assert_eq!(acc.sign_in("hoa", "sai rồi!!"), Err(SignInError::Wrong));
        assert_eq!(acc.sign_in("ai", "mật khẩu dài"), Err(SignInError::Wrong));
        acc.set_disabled("hoa", true).unwrap();
        assert_eq!(
            acc.sign_in("hoa", "mật khẩu dài"),
            Err(SignInError::Disabled)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(USERS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn bad_logins_short_passwords_and_duplicates_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let acc = Accounts::of(dir.path());
        assert!(acc.add("Hoa Tran", "", Role::Clerk, "12345678").is_err());
        assert!(acc.add("hoa", "", Role::Clerk, "1234567").is_err());
        acc.add("hoa", "", Role::Clerk, "12345678").unwrap();
        assert!(acc.add("hoa", "", Role::Viewer, "12345678").is_err());
        assert!(acc.set_password("lan", "12345678").is_err());
    }

    #[test]
    fn roles_are_ordered_and_parse_from_vietnamese() {
        assert!(Role::Viewer < Role::Clerk && Role::Clerk < Role::Approver);
        assert!(Role::Approver < Role::Admin);
        assert_eq!(Role::parse("văn thư").unwrap(), Role::Clerk);
        assert_eq!(Role::parse("Admin").unwrap(), Role::Admin);
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn the_owner_token_is_kept_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let t = owner_token(dir.path()).unwrap();
        assert_eq!(t.len(), 64);
        assert_eq!(owner_token(dir.path()).unwrap(), t);
        assert!(same_secret(
            &t,
            &read_owner_token(dir.path()).unwrap().unwrap()
        ));
        assert!(!same_secret(&t, &random_token()));
    }
}
