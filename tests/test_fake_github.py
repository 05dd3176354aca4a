"""The fake GitHub server, driven by real PyGithub over real HTTP."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, Github, GithubException, GithubIntegration

from tests.fake_github import (
    BOT_LOGIN,
    FakeGitHub,
    PullFile,
    diff_files,
    fake_github_fixture,  # noqa: F401 - the `fake_github` fixture
    make_patch,
    match_route,
    patch_lines,
)

BASE = {
    "src/app.py": "".join(f"line {i}\n" for i in range(1, 21)),
    "README.md": "# demo\n",
    "old.txt": "going away\n",
    "logo.png": b"\x89PNG\r\n\x1a\n\0\0binary",
}
HEAD = {
    "src/app.py": "".join(
        f"line {i}\n" if i not in (3, 15) else f"changed {i}\n" for i in range(1, 21)
    ),
    "README.md": "# demo\n\nMore words.\n",
    "new.py": "print('hi')\n",
    "docs/guide.md": "guide\n",
    "logo.png": b"\x89PNG\r\n\x1a\n\0\0other",
}


def client(fake: FakeGitHub, token: str | None = None, per_page: int = 30) -> Github:
    return Github(
        base_url=fake.base_url,
        auth=Auth.Token(token or fake.token),
        per_page=per_page,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


@pytest.fixture
def setup(fake_github: FakeGitHub) -> tuple[FakeGitHub, int]:
    repo = fake_github.add_repo("octo/demo", {"README.md": "# demo\n"})
    pull = fake_github.add_pull(
        repo, base=BASE, head=HEAD, title="Tweak the app", body="Does things", user="alice"
    )
    return fake_github, pull.number


def assert_clean(fake: FakeGitHub) -> None:
    assert fake.violations == []
    assert fake.unimplemented == []
    assert fake.crashes == []
    assert [str(v) for v in fake.response_violations] == []


# -- diffs -------------------------------------------------------------------------------


def test_make_patch_is_github_shaped() -> None:
    patch = make_patch("a\nb\nc\n", "a\nB\nc\nd")
    assert patch == "@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n\\ No newline at end of file"
    assert make_patch("same\n", "same\n") is None
    lines = patch_lines(patch)
    assert [(x.kind, x.old, x.new) for x in lines[:4]] == [
        (" ", 1, 1),
        ("-", 2, None),
        ("+", None, 2),
        (" ", 3, 3),
    ]
    assert [x.position for x in lines] == [1, 2, 3, 4, 5, 6]


def test_patch_positions_count_later_hunk_headers() -> None:
    old = "".join(f"{i}\n" for i in range(1, 30))
    new = old.replace("2\n", "two\n", 1).replace("25\n", "twenty-five\n")
    lines = patch_lines(make_patch(old, new))
    headers = [x for x in lines if x.kind == "@"]
    assert len(headers) == 1 and headers[0].hunk == 1
    assert headers[0].position == 1 + lines.index(headers[0])


def test_diff_files_statuses_renames_and_binary() -> None:
    files = {
        f.filename: f
        for f in diff_files(
            {"a.txt": "a\n", "gone.txt": "x\n", "old/name.py": "k = 1\n", "img": b"\0\1"},
            {"a.txt": "b\n", "new.txt": "n\n", "new/name.py": "k = 1\n", "img": b"\0\2"},
            renames={"old/name.py": "new/name.py"},
        )
    }
    assert {n: f.status for n, f in files.items()} == {
        "a.txt": "modified",
        "gone.txt": "removed",
        "new.txt": "added",
        "new/name.py": "renamed",
        "img": "modified",
    }
    assert files["new/name.py"].previous_filename == "old/name.py"
    assert files["new/name.py"].patch is None  # an exact rename has no patch
    assert files["img"].patch is None and files["img"].counts() == (0, 0)
    assert files["a.txt"].counts() == (1, 1)


def test_routes_prefer_literal_segments(npm_data: object) -> None:
    found = match_route("GET", "/repos/o/r/pulls/comments/5")
    assert found and found[0].operation_id == "pulls/get-review-comment"
    found = match_route("GET", "/repos/o/r/contents/a/b/c.py")
    assert found and found[0].operation_id == "repos/get-content"
    assert found[1]["path"] == "a/b/c.py"
    found = match_route("GET", "/repos/o/r/compare/main...feature/x")
    assert found and found[0].operation_id == "repos/compare-commits"
    assert (found[1]["base"], found[1]["head"]) == ("main", "feature/x")
    assert match_route("GET", "/repos/o/r/no-such-thing") is None


# -- reading -----------------------------------------------------------------------------


def test_read_pull_and_files_across_pages(setup: tuple[FakeGitHub, int]) -> None:
    fake, number = setup
    gh = client(fake, per_page=2)
    pr = gh.get_repo("octo/demo").get_pull(number)
    assert (pr.title, pr.body, pr.state, pr.draft, pr.user.login) == (
        "Tweak the app",
        "Does things",
        "open",
        False,
        "alice",
    )
    repo = fake.repo("octo/demo")
    assert pr.head.sha == repo.branches[pr.head.ref] and pr.base.ref == "main"
    assert pr.base.sha == repo.branches["main"]
    assert pr.head.repo.full_name == "octo/demo"
    files = {f.filename: f for f in pr.get_files()}
    assert sorted(files) == [
        "README.md",
        "docs/guide.md",
        "logo.png",
        "new.py",
        "old.txt",
        "src/app.py",
    ]
    assert files["old.txt"].status == "removed"
    assert (
        files["new.py"].status == "added" and files["new.py"].patch == "@@ -0,0 +1 @@\n+print('hi')"
    )
    assert files["logo.png"].patch is None
    app = files["src/app.py"]
    assert (app.additions, app.deletions, app.changes) == (2, 2, 4)
    assert app.patch.startswith("@@ -1,6 +1,6 @@")
    pages = [r for r in fake.calls("pulls/list-files")]
    assert [r.query.get("page") for r in pages] == [None, "2", "3"]
    assert all(r.query["per_page"] == "2" for r in pages)
    assert_clean(fake)


def test_link_header_is_github_shaped(setup: tuple[FakeGitHub, int]) -> None:
    fake, number = setup
    url = f"{fake.base_url}/repos/octo/demo/pulls/{number}/files"
    headers = {"Authorization": f"token {fake.token}"}
    first = requests.get(url, params={"per_page": 2}, headers=headers, timeout=5)
    assert first.status_code == 200 and len(first.json()) == 2
    assert first.links["next"]["url"] == f"{url}?per_page=2&page=2"
    assert first.links["last"]["url"] == f"{url}?per_page=2&page=3"
    assert "prev" not in first.links
    last = requests.get(first.links["last"]["url"], headers=headers, timeout=5)
    assert set(last.links) == {"prev", "first"}
    assert int(last.headers["x-ratelimit-remaining"]) < 5000
    assert_clean(fake)


def test_contents_commit_and_compare(setup: tuple[FakeGitHub, int]) -> None:
    fake, number = setup
    repo = client(fake).get_repo("octo/demo")
    pr = repo.get_pull(number)
    content = repo.get_contents("src/app.py", ref=pr.base.sha)
    assert content.decoded_content.decode() == BASE["src/app.py"]
    assert repo.get_contents("new.py", ref=pr.head.sha).decoded_content == b"print('hi')\n"
    assert repo.get_contents("README.md").decoded_content == b"# demo\n"  # default branch
    listing = repo.get_contents("src", ref=pr.base.sha)
    assert [c.path for c in listing] == ["src/app.py"]
    with pytest.raises(GithubException) as missing:
        repo.get_contents("new.py", ref=pr.base.sha)
    assert missing.value.status == 404

    commit = repo.get_commit(pr.head.sha)
    assert commit.sha == pr.head.sha and commit.parents[0].sha == pr.base.sha
    assert "new.py" in {f.filename for f in commit.files}

    comparison = repo.compare(pr.base.sha, pr.head.sha)
    assert (comparison.status, comparison.ahead_by, comparison.behind_by) == ("ahead", 1, 0)
    assert {f.filename for f in comparison.files} == {f.filename for f in pr.get_files()}
    assert repo.compare(pr.head.sha, pr.head.sha).status == "identical"

    fake.repo("octo/demo").commit({**BASE, "other.txt": "x\n"}, message="main moves on")
    diverged = repo.compare("main", pr.head.ref)
    assert (diverged.status, diverged.ahead_by, diverged.behind_by) == ("diverged", 1, 1)
    assert "other.txt" not in {f.filename for f in diverged.files}  # three-dot: from merge base
    assert_clean(fake)


# -- reviews -----------------------------------------------------------------------------


def test_review_with_valid_comments(setup: tuple[FakeGitHub, int]) -> None:
    fake, number = setup
    repo = client(fake).get_repo("octo/demo")
    pr = repo.get_pull(number)
    head = repo.get_commit(pr.head.sha)
    review = pr.create_review(
        commit=head,
        body="Two notes",
        event="COMMENT",
        comments=[
            {"path": "src/app.py", "line": 3, "body": "changed line"},
            {"path": "src/app.py", "line": 5, "body": "context line"},
            {"path": "src/app.py", "start_line": 13, "line": 15, "body": "a range"},
            {"path": "src/app.py", "line": 3, "side": "LEFT", "body": "the old line"},
            {"path": "new.py", "position": 1, "body": "by position"},
        ],
    )
    assert review.state == "COMMENTED" and review.body == "Two notes"
    assert review.commit_id == pr.head.sha and review.user.login == BOT_LOGIN
    comments = list(pr.get_review_comments())
    assert [(c.path, c.line, c.body) for c in comments] == [
        ("src/app.py", 3, "changed line"),
        ("src/app.py", 5, "context line"),
        ("src/app.py", 15, "a range"),
        ("src/app.py", 3, "the old line"),
        ("new.py", 1, "by position"),
    ]
    assert all(c.pull_request_review_id == review.id for c in comments)
    assert comments[0].user.login == BOT_LOGIN and comments[0].user.type == "Bot"
    assert comments[2].start_line == 13
    assert comments[0].diff_hunk.endswith("+changed 3")
    assert [r.id for r in pr.get_reviews()] == [review.id]
    assert len(list(pr.get_single_review_comments(review.id))) == 5
    sent = fake.calls("pulls/create-review")[0].body
    assert sent["commit_id"] == pr.head.sha and len(sent["comments"]) == 5
    assert_clean(fake)


@pytest.mark.parametrize(
    ("comment", "error"),
    [
        (
            {"path": "src/app.py", "line": 9, "body": "outside every hunk"},
            "Line could not be resolved",
        ),
        ({"path": "src/app.py", "line": 99, "body": "past the end"}, "Line could not be resolved"),
        ({"path": "nope.py", "line": 1, "body": "not in the PR"}, "Path could not be resolved"),
        ({"path": "logo.png", "line": 1, "body": "binary, no patch"}, "Line could not be resolved"),
        (
            {"path": "old.txt", "line": 1, "body": "removed: no RIGHT lines"},
            "Line could not be resolved",
        ),
        (
            {"path": "src/app.py", "line": 9, "side": "LEFT", "body": "old 9 is not in the diff"},
            "Line",
        ),
        (
            {"path": "src/app.py", "start_line": 3, "line": 15, "body": "spans two hunks"},
            "same hunk",
        ),
        ({"path": "src/app.py", "start_line": 5, "line": 3, "body": "backwards"}, "precede"),
        ({"path": "new.py", "position": 7, "body": "bad position"}, "Line could not be resolved"),
    ],
)
def test_review_with_bad_anchor_is_refused(
    setup: tuple[FakeGitHub, int], comment: dict[str, object], error: str
) -> None:
    fake, number = setup
    pr = client(fake).get_repo("octo/demo").get_pull(number)
    good = {"path": "src/app.py", "line": 3, "body": "fine"}
    with pytest.raises(GithubException) as refused:
        pr.create_review(body="notes", event="COMMENT", comments=[good, comment])
    assert refused.value.status == 422
    assert refused.value.data["message"] == "Unprocessable Entity"
    assert any(error in e for e in refused.value.data["errors"])
    assert "documentation_url" in refused.value.data
    assert list(pr.get_reviews()) == [] and list(pr.get_review_comments()) == []
    assert_clean(fake)


def test_pending_review_then_submit(setup: tuple[FakeGitHub, int]) -> None:
    fake, number = setup
    pr = client(fake).get_repo("octo/demo").get_pull(number)
    pending = pr.create_review(comments=[{"path": "new.py", "line": 1, "body": "later"}])
    assert pending.state == "PENDING" and pending.submitted_at is None
    assert list(pr.get_review_comments()) == []  # pending comments are not listed yet
    with pytest.raises(GithubException) as twice:
        pr.create_review()
    assert twice.value.status == 422
    fake_pull = fake.repo("octo/demo").pulls[number]
    url = f"{fake.base_url}/repos/octo/demo/pulls/{number}/reviews/{pending.id}/events"
    done = requests.post(
        url,
        json={"event": "COMMENT", "body": "now"},
        headers={"Authorization": f"token {fake.token}"},
        timeout=5,
    )
    assert done.status_code == 200 and done.json()["state"] == "COMMENTED"
    assert [c.body for c in pr.get_review_comments()] == ["later"]
    assert fake.reviews(fake_pull)[0]["state"] == "COMMENTED"
    assert_clean(fake)


def test_explicit_patches(fake_github: FakeGitHub) -> None:
    repo = fake_github.add_repo("octo/demo", {"a.py": "a\n"})
    patch = "@@ -10,3 +10,4 @@ def f():\n     x = 1\n+    y = 2\n     return x\n     # end"
    pull = fake_github.add_pull(repo, files=[PullFile("a.py", "modified", patch)])
    pr = client(fake_github).get_repo("octo/demo").get_pull(pull.number)
    (only,) = pr.get_files()
    assert (only.patch, only.additions, only.deletions) == (patch, 1, 0)
    pr.create_review(
        body="ok", event="COMMENT", comments=[{"path": "a.py", "line": 11, "body": "y"}]
    )
    with pytest.raises(GithubException):
        pr.create_review(
            body="ok", event="COMMENT", comments=[{"path": "a.py", "line": 9, "body": "n"}]
        )
    assert len(fake_github.review_comments(pull)) == 1
    assert_clean(fake_github)


# -- conversation ------------------------------------------------------------------------


def test_issue_comments_edit_and_reaction(setup: tuple[FakeGitHub, int]) -> None:
    fake, number = setup
    pull = fake.repo("octo/demo").pulls[number]
    fake.add_issue_comment(pull, "@twelve-review please look", user="alice")
    pr = client(fake).get_repo("octo/demo").get_pull(number)
    mine = pr.create_issue_comment("Looking…")
    assert (mine.user.login, mine.user.type) == (BOT_LOGIN, "Bot")
    mine.edit("Done: 2 findings")
    comments = list(pr.get_issue_comments())
    assert [(c.user.login, c.user.type, c.body) for c in comments] == [
        ("alice", "User", "@twelve-review please look"),
        (BOT_LOGIN, "Bot", "Done: 2 findings"),
    ]
    assert comments[0].author_association == "CONTRIBUTOR"
    reaction = comments[0].create_reaction("eyes")
    assert reaction.content == "eyes" and reaction.user.login == BOT_LOGIN
    assert fake.calls("reactions/create-for-issue-comment")[0].body == {"content": "eyes"}
    assert fake.issue_comments(pull)[0]["reactions"]["eyes"] == 1
    assert fake.issue_comments(pull)[1]["body"] == "Done: 2 findings"
    assert_clean(fake)


def test_collaborator_permission(fake_github: FakeGitHub) -> None:
    fake_github.add_repo("octo/demo", {"a": "a\n"}, permissions={"alice": "write", "bob": "read"})
    fake_github.add_user("carol")
    repo = client(fake_github).get_repo("octo/demo")
    assert repo.get_collaborator_permission("alice") == "write"
    assert repo.get_collaborator_permission("bob") == "read"
    assert repo.get_collaborator_permission("octo") == "admin"
    assert repo.get_collaborator_permission("carol") == "read"  # public repo
    with pytest.raises(GithubException) as unknown:
        repo.get_collaborator_permission("nobody-at-all")
    assert unknown.value.status == 404
    assert_clean(fake_github)


# -- auth --------------------------------------------------------------------------------


def test_app_auth_to_installation_token(setup: tuple[FakeGitHub, int]) -> None:
    fake, number = setup
    integration = GithubIntegration(
        auth=Auth.AppAuth(fake.app_id, fake.private_key_pem), base_url=fake.base_url, retry=None
    )
    installation = integration.get_repo_installation("octo", "demo")
    assert installation.id == fake.installation_id
    token = integration.get_access_token(installation.id)
    assert token.token.startswith("ghs_")
    assert 3500 < token.expires_at.timestamp() - time.time() <= 3600
    gh = integration.get_github_for_installation(installation.id)
    pr = gh.get_repo("octo/demo").get_pull(number)
    assert pr.create_issue_comment("hi").user.login == BOT_LOGIN
    sent = fake.calls("repos/get")[0].headers["authorization"]
    assert sent.startswith("token ghs_")
    assert_clean(fake)


def test_auth_is_checked(setup: tuple[FakeGitHub, int]) -> None:
    fake, _ = setup
    url = f"{fake.base_url}/repos/octo/demo"
    assert requests.get(url, timeout=5).status_code == 401
    bad = requests.get(url, headers={"Authorization": "token nope"}, timeout=5)
    assert (bad.status_code, bad.json()["message"]) == (401, "Bad credentials")
    assert requests.get(url, headers={"Authorization": f"Bearer {fake.token}"}, timeout=5).ok

    tokens_url = f"{fake.base_url}/app/installations/{fake.installation_id}/access_tokens"
    now = int(time.time())

    def token_with(claims: dict[str, object], key: str = fake.private_key_pem) -> int:
        signed = jwt.encode(claims, key, algorithm="RS256")
        return requests.post(
            tokens_url, headers={"Authorization": f"Bearer {signed}"}, timeout=5
        ).status_code

    good = {"iat": now - 60, "exp": now + 300, "iss": str(fake.app_id)}
    assert token_with(good) == 201
    assert token_with({**good, "iss": "999"}) == 401
    assert token_with({**good, "exp": now - 10}) == 401
    assert token_with({**good, "exp": now + 3600}) == 401
    stranger = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    assert token_with(good, stranger) == 401
    # an installation token is not a JWT for app endpoints
    assert (
        requests.post(
            tokens_url, headers={"Authorization": f"Bearer {fake.token}"}, timeout=5
        ).status_code
        == 401
    )

    issued = requests.post(
        tokens_url,
        headers={"Authorization": "Bearer " + jwt.encode(good, fake.private_key_pem, "RS256")},
        timeout=5,
    ).json()["token"]
    assert requests.get(url, headers={"Authorization": f"token {issued}"}, timeout=5).ok
    fake.expire_tokens()
    assert (
        requests.get(url, headers={"Authorization": f"token {issued}"}, timeout=5).status_code
        == 401
    )
    assert_clean(fake)


# -- fidelity and faults -----------------------------------------------------------------


def test_violations_catch_what_github_would_refuse(setup: tuple[FakeGitHub, int]) -> None:
    fake, number = setup
    headers = {"Authorization": f"token {fake.token}"}
    reviews = f"{fake.base_url}/repos/octo/demo/pulls/{number}/reviews"
    bad = requests.post(
        reviews,
        json={"event": "SHOUT", "comments": [{"path": "a.py", "line": "3"}]},
        headers=headers,
        timeout=5,
    )
    assert bad.status_code == 400
    messages = [v.message for v in fake.violations]
    assert any("'SHOUT' is not one of" in m for m in messages)
    assert any("'body' is a required property" in m for m in messages)
    assert any("'3' is not of type 'integer'" in m for m in messages)
    assert all(v.operation_id == "pulls/create-review" for v in fake.violations)
    assert fake.reviews(fake.repo("octo/demo").pulls[number]) == []

    fake.violations.clear()
    unknown = requests.post(
        f"{fake.base_url}/repos/octo/demo/pulls/{number}/approve", headers=headers, timeout=5
    )
    assert unknown.status_code == 400 and fake.violations[0].operation_id is None

    fake.violations.clear()
    requests.get(
        f"{fake.base_url}/repos/octo/demo/pulls/{number}/files?perpage=5",
        headers=headers,
        timeout=5,
    )
    assert "perpage" in fake.violations[0].message

    fake.violations.clear()
    requests.get(f"{fake.base_url}/repos/octo/demo/pulls/abc", headers=headers, timeout=5)
    assert "pull_number" in fake.violations[0].message


def test_unimplemented_operations_are_reported(setup: tuple[FakeGitHub, int]) -> None:
    fake, _ = setup
    response = requests.get(
        f"{fake.base_url}/repos/octo/demo/labels",
        headers={"Authorization": f"token {fake.token}"},
        timeout=5,
    )
    assert response.status_code == 501
    assert [r.operation_id for r in fake.unimplemented] == ["issues/list-labels-for-repo"]
    assert fake.violations == []


def test_fail_next(setup: tuple[FakeGitHub, int]) -> None:
    fake, number = setup
    fake.fail_next("POST", r"/reviews$", 502, headers={"Retry-After": "1"}, times=2)
    pr = client(fake).get_repo("octo/demo").get_pull(number)
    for _ in range(2):
        with pytest.raises(GithubException) as failed:
            pr.create_review(body="x", event="COMMENT")
        assert failed.value.status == 502
        assert failed.value.headers["retry-after"] == "1"
    assert pr.create_review(body="x", event="COMMENT").state == "COMMENTED"
    assert [r.status for r in fake.calls("pulls/create-review")] == [502, 502, 200]
    assert_clean(fake)


def test_push_updates_the_pull(setup: tuple[FakeGitHub, int]) -> None:
    fake, number = setup
    pull = fake.repo("octo/demo").pulls[number]
    old_head = pull.head_sha
    new_head = fake.push(pull, {**HEAD, "extra.py": "x = 1\n"})
    pr = client(fake).get_repo("octo/demo").get_pull(number)
    assert pr.head.sha == new_head != old_head
    assert "extra.py" in {f.filename for f in pr.get_files()}
    assert pr.commits == 2
    assert_clean(fake)


def test_enterprise_style_api_prefix(npm_data: object) -> None:
    with FakeGitHub(api_prefix="/api/v3") as fake:
        assert fake.base_url.endswith("/api/v3")
        repo = fake.add_repo("octo/demo")
        pull = fake.add_pull(repo, base={"a": "1\n"}, head={"a": "2\n"})
        pr = client(fake, per_page=1).get_repo("octo/demo").get_pull(pull.number)
        assert [f.filename for f in pr.get_files()] == ["a"]
        pr.create_review(
            body="ok", event="COMMENT", comments=[{"path": "a", "line": 1, "body": "x"}]
        )
        assert fake.calls("pulls/create-review")[0].path.startswith("/api/v3/repos/")
        assert_clean(fake)
