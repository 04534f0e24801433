//! The apiserver's static token file (`--token-auth-file`, the guides' `token.csv`) and the
//! bootstrap token in it.
//!
//! Pure: [`TokenFile::parse`] and [`TokenFile::render`] read and write the format, [`decide`]
//! says whether an existing file is kept; only [`generate`] touches the random source, and
//! it is handed one.

use crate::Error;
use ring::rand::SecureRandom;

/// The user kubelets bootstrap as, in the guides' token file.
pub const BOOTSTRAP_USER: &str = "kubelet-bootstrap";
/// Its uid in the guides' token file.
pub const BOOTSTRAP_UID: &str = "10001";
/// Its group in the guides' token file.
pub const BOOTSTRAP_GROUP: &str = "system:kubelet-bootstrap";
/// Where the file lives on masters, under the inventory's Kubernetes config directory.
pub const TOKEN_FILE_NAME: &str = "token.csv";

/// A bearer token. It never shows itself: `Debug` and `Serialize` print a placeholder and
/// there is no `Display`; [`Token::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A token from its text; `None` when it is empty or holds characters a token file
    /// or an HTTP header cannot carry (whitespace, `,`, `"`, control characters).
    pub fn new(text: &str) -> Option<Token> {
        let ok = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_graphic() && c != ',' && c != '"');
        ok.then(|| Token(text.to_string()))
    }

    /// The token's text, for the file that holds it and the kubeconfig that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token([secret elided])")
    }
}

impl serde::Serialize for Token {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[secret elided]")
    }
}

/// A new bootstrap token: 16 bytes from `rng` (the OS's secure source,
/// `ring::rand::SystemRandom`) as 32 lower-case hex characters, as the guides'
/// `head -c 16 /dev/urandom | od -An -t x | tr -d ' '`.
pub fn generate(rng: &dyn SecureRandom) -> Result<Token, Error> {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes).map_err(|_| Error::Random)?;
    Ok(Token(hex::encode(bytes)))
}

/// One line of a token file: `token,user,uid[,"group1,group2"]`.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenLine {
    /// The bearer token.
    pub token: Token,
    /// The user it authenticates as.
    pub user: String,
    /// The user's uid.
    pub uid: String,
    /// The user's groups (the quoted fourth field, split on commas).
    pub groups: Vec<String>,
}

impl std::fmt::Debug for TokenLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenLine")
            .field("token", &self.token)
            .field("user", &self.user)
            .field("uid", &self.uid)
            .field("groups", &self.groups)
            .finish()
    }
}

impl TokenLine {
    /// The guides' line for the bootstrap user: `TOKEN,kubelet-bootstrap,10001,"system:kubelet-bootstrap"`.
    pub fn bootstrap(token: Token) -> TokenLine {
        TokenLine {
            token,
            user: BOOTSTRAP_USER.to_string(),
            uid: BOOTSTRAP_UID.to_string(),
            groups: vec![BOOTSTRAP_GROUP.to_string()],
        }
    }

    fn render(&self) -> String {
        let mut line = format!("{},{},{}", self.token.expose(), self.user, self.uid);
        if !self.groups.is_empty() {
            line.push_str(&format!(",\"{}\"", self.groups.join(",")));
        }
        line
    }
}

/// A whole token file: its lines in order (other users' lines are kept as they are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFile {
    /// The lines, in file order.
    pub lines: Vec<TokenLine>,
}

impl TokenFile {
    /// A file with only the bootstrap user's line.
    pub fn new(token: Token) -> TokenFile {
        TokenFile {
            lines: vec![TokenLine::bootstrap(token)],
        }
    }

    /// Parses a token file as kube-apiserver reads it (CSV, at least three fields, the
    /// fourth a comma-separated group list), reporting every bad line by number and never
    /// quoting a token. Blank lines are skipped.
    pub fn parse(text: &str, source_name: &str) -> Result<TokenFile, Error> {
        let mut lines = Vec::new();
        let mut problems = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            if raw.trim().is_empty() {
                continue;
            }
            let fields = match split_csv(raw) {
                Ok(f) => f,
                Err(p) => {
                    problems.push(format!("line {n}: {p}"));
                    continue;
                }
            };
            if fields.len() < 3 || fields.len() > 4 {
                problems.push(format!(
                    "line {n}: {} fields, want token,user,uid[,\"groups\"]",
                    fields.len()
                ));
                continue;
            }
            let Some(token) = Token::new(&fields[0]) else {
                problems.push(format!(
                    "line {n}: the token is empty or holds spaces, commas or quotes"
                ));
                continue;
            };
            if fields[1].is_empty() {
                problems.push(format!("line {n}: the user is empty"));
                continue;
            }
            if !seen.insert(token.expose().to_string()) {
                problems.push(format!("line {n}: the token of an earlier line again"));
                continue;
            }
            let groups = match fields.get(3) {
                Some(g) if !g.is_empty() => g.split(',').map(|s| s.trim().to_string()).collect(),
                _ => Vec::new(),
            };
            lines.push(TokenLine {
                token,
                user: fields[1].clone(),
                uid: fields[2].clone(),
                groups,
            });
        }
        if problems.is_empty() {
            Ok(TokenFile { lines })
        } else {
            Err(Error::MalformedTokenFile {
                source_name: source_name.to_string(),
                problems,
            })
        }
    }

    /// The file's text, one line per user, each ended by a newline.
    pub fn render(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.render() + "\n")
            .collect::<String>()
    }

    /// The bootstrap user's line, if the file has one.
    pub fn bootstrap_line(&self) -> Option<&TokenLine> {
        self.lines.iter().find(|l| l.user == BOOTSTRAP_USER)
    }

    /// The bootstrap user's token, if the file has one.
    pub fn bootstrap_token(&self) -> Option<&Token> {
        self.bootstrap_line().map(|l| &l.token)
    }
}

/// What to do about the token file on a (re-)run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenDecision {
    /// The existing file is kept as it is, and with it its bootstrap token.
    Keep(TokenFile),
    /// There is no file (or only blank lines): generate a token and write
    /// [`TokenFile::new`].
    Create,
}

/// Decides from the existing file's text (`None`: no file): keep a valid file with a
/// bootstrap line, create when there is none, and refuse (never overwrite) a file that does
/// not parse or lacks the bootstrap user. Rotation is [`rotate`], never a side effect.
pub fn decide(existing: Option<&str>, source_name: &str) -> Result<TokenDecision, Error> {
    let Some(text) = existing.filter(|t| !t.trim().is_empty()) else {
        return Ok(TokenDecision::Create);
    };
    let file = TokenFile::parse(text, source_name)?;
    if file.bootstrap_line().is_none() {
        return Err(Error::NoBootstrapLine {
            source_name: source_name.to_string(),
            user: BOOTSTRAP_USER.to_string(),
        });
    }
    Ok(TokenDecision::Keep(file))
}

/// The file with the bootstrap user's token replaced by `new` (its line added if missing);
/// every other line is kept. The explicit way to rotate the token.
pub fn rotate(file: &TokenFile, new: Token) -> TokenFile {
    let mut out = file.clone();
    match out.lines.iter_mut().find(|l| l.user == BOOTSTRAP_USER) {
        Some(line) => line.token = new,
        None => out.lines.push(TokenLine::bootstrap(new)),
    }
    out
}

/// Splits one CSV record (RFC 4180 quoting, leading spaces of a field trimmed as
/// kube-apiserver's reader does). The problem never quotes the line.
fn split_csv(line: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::new();
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field is not closed"),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err("text after a closing quote"),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => {
                        fields.push(field);
                        break;
                    }
                    Some('"') => return Err("a quote inside an unquoted field"),
                    Some(c) => field.push(c),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: &str = "0fb61c46f8991b718eb38d27b605b008";

    fn token(t: &str) -> Token {
        Token::new(t).unwrap()
    }

    #[test]
    fn renders_the_guides_line() {
        let file = TokenFile::new(token(T));
        insta::assert_snapshot!(file.render(), @r#"0fb61c46f8991b718eb38d27b605b008,kubelet-bootstrap,10001,"system:kubelet-bootstrap""#);
    }

    #[test]
    fn generated_tokens_are_32_hex_and_differ() {
        let rng = ring::rand::SystemRandom::new();
        let a = generate(&rng).unwrap();
        let b = generate(&rng).unwrap();
        assert_eq!(a.expose().len(), 32);
        assert!(a.expose().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn token_hides_itself() {
        let file = TokenFile::new(token(T));
        let debug = format!("{file:?} {:?}", file.bootstrap_token());
        assert!(!debug.contains(T), "{debug}");
        let json = serde_json::to_string(&token(T)).unwrap();
        assert!(!json.contains(T), "{json}");
    }

    #[test]
    fn an_existing_token_is_kept() {
        let text =
            format!("{T},kubelet-bootstrap,10001,\"system:kubelet-bootstrap\"\nabc,alice,1\n");
        let Ok(TokenDecision::Keep(file)) = decide(Some(&text), "token.csv") else {
            panic!("not kept");
        };
        assert_eq!(file.bootstrap_token().unwrap().expose(), T);
        assert_eq!(file.render(), text, "re-rendering changes nothing");
        assert_eq!(decide(None, "token.csv").unwrap(), TokenDecision::Create);
        assert_eq!(
            decide(Some("\n \n"), "token.csv").unwrap(),
            TokenDecision::Create
        );
    }

    #[test]
    fn a_malformed_file_names_every_bad_line_and_no_token() {
        let text = format!("{T},kubelet-bootstrap\n\nsecret-one,bob,2,\"a\"x\n{T},carol,3\n");
        match decide(Some(&text), "/opt/kubernetes/cfg/token.csv") {
            Err(e @ Error::MalformedTokenFile { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("line 1: 2 fields"), "{msg}");
                assert!(msg.contains("line 3: text after a closing quote"), "{msg}");
                assert!(msg.contains("/opt/kubernetes/cfg/token.csv"), "{msg}");
                assert!(!msg.contains(T) && !msg.contains("secret-one"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
        let dup = format!("{T},kubelet-bootstrap,1\n{T},x,2\n");
        assert!(matches!(
            decide(Some(&dup), "t"),
            Err(Error::MalformedTokenFile { problems, .. }) if problems == ["line 2: the token of an earlier line again"]
        ));
        assert!(matches!(
            decide(Some("abc,alice,1\n"), "t"),
            Err(Error::NoBootstrapLine { .. })
        ));
    }

    #[test]
    fn rotation_replaces_only_the_bootstrap_token() {
        let text =
            format!("abc,alice,1\n{T},kubelet-bootstrap,10001,\"system:kubelet-bootstrap\"\n");
        let file = TokenFile::parse(&text, "t").unwrap();
        let new = token("ffffffffffffffffffffffffffffffff");
        let rotated = rotate(&file, new.clone());
        assert_eq!(rotated.bootstrap_token(), Some(&new));
        assert_eq!(rotated.lines[0], file.lines[0]);
        let added = rotate(&TokenFile { lines: vec![] }, new.clone());
        assert_eq!(added, TokenFile::new(new));
    }

    fn field() -> impl Strategy<Value = String> {
        "[a-z0-9:._-]{1,12}"
    }

    proptest! {
        #[test]
        fn render_then_parse_round_trips(
            lines in proptest::collection::vec(
                ("[0-9a-f]{32}", field(), "[0-9]{1,5}", proptest::collection::vec(field(), 0..3)),
                1..5,
            )
        ) {
            let mut seen = std::collections::BTreeSet::new();
            let file = TokenFile {
                lines: lines
                    .into_iter()
                    .filter(|(t, ..)| seen.insert(t.clone()))
                    .map(|(t, user, uid, groups)| TokenLine { token: token(&t), user, uid, groups })
                    .collect(),
            };
            let parsed = TokenFile::parse(&file.render(), "t").unwrap();
            prop_assert_eq!(parsed, file);
        }
    }
}
