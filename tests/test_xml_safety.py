"""Hostile PMML (external entities, entity expansion) never reaches a parser."""

import json

import pytest
from sklearn.datasets import make_classification
from sklearn.tree import DecisionTreeClassifier

import portable
from portable.artifact import MANIFEST, sha256
from portable.errors import ArtifactError
from portable.xmlsafe import check_xml, parse_xml

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE PMML [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<PMML version="4.4" xmlns="http://www.dmg.org/PMML-4_4"><Header description="&secret;"/></PMML>"""
BOMB = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>
<PMML>&lol2;</PMML>"""


@pytest.mark.parametrize("payload", [XXE, BOMB, b"\xef\xbb\xbf" + XXE, XXE.replace(b"DOCTYPE", b"doctype")])
def test_dtds_and_entities_are_refused(payload):
    with pytest.raises(ArtifactError, match="DTD or entities"):
        check_xml(payload)


def test_plain_pmml_parses():
    root = parse_xml(b'<PMML version="4.4"><Header/></PMML>')
    assert root.tag == "PMML"
    with pytest.raises(ArtifactError, match="not well-formed"):
        parse_xml(b"<PMML><Header></PMML>")


def test_a_tampered_artifact_with_an_xxe_payload_never_reaches_the_jvm(tmp_path):
    X, y = make_classification(100, 4, random_state=0)
    art = portable.export(DecisionTreeClassifier(max_depth=2).fit(X, y), format="pmml",
                          out_dir=tmp_path / "a", check=False)
    # An attacker rewrites the document and fixes up the checksum in the manifest.
    (art.path / "model.pmml").write_bytes(XXE)
    manifest = json.loads((art.path / MANIFEST).read_text())
    manifest["files"]["model.pmml"]["sha256"] = sha256(XXE)
    (art.path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="DTD or entities"):
        portable.load(art.path)
