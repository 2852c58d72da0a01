"""Default taxonomy for a software company's support desk. Seeded once; edited in the admin after.

Descriptions and example phrases feed both the Kimi prompt and the offline classifier, so they
are written to be discriminative and come in the languages tickets arrive in (en, de, es, fr, pt).
"""

from __future__ import annotations

from triage.adapters.llm.base import Taxonomy, TaxonomyEntry, taxonomy_of
from triage.fields import TAXONOMY

DEFAULT_TAXONOMY_ROWS: list[dict] = [
    # --- categories -------------------------------------------------------------------------
    {
        "field": "category",
        "value": "bug",
        "label": "Bug / error",
        "description": "Something is broken: an error message, a crash, an exception, a failing page or button, HTTP 500, wrong behaviour.",
        "examples": [
            "the app crashes when I click save",
            "I get an error 500 at checkout",
            "exception stack trace",
            "button does nothing",
            "Fehler beim Speichern, die App stürzt ab",
            "la aplicación falla con un error",
            "l'application plante avec une erreur",
            "o aplicativo trava e mostra um erro",
        ],
    },
    {
        "field": "category",
        "value": "account_access",
        "label": "Account & login",
        "description": "Cannot sign in, password reset, locked account, two-factor authentication, SSO, invitations and user permissions.",
        "examples": [
            "I cannot log in",
            "password reset link does not work",
            "my account is locked",
            "two-factor code not accepted",
            "ich kann mich nicht anmelden, Passwort vergessen",
            "no puedo iniciar sesión",
            "je n'arrive pas à me connecter, mot de passe",
            "não consigo entrar na minha conta, senha",
        ],
    },
    {
        "field": "category",
        "value": "billing",
        "label": "Billing & payments",
        "description": "Invoices, charges, refunds, double charges, subscription plans, credit cards, VAT, receipts.",
        "examples": [
            "I was charged twice",
            "please refund my payment",
            "invoice is wrong",
            "change my subscription plan",
            "Rechnung doppelt abgebucht, bitte erstatten",
            "me cobraron dos veces la factura",
            "facture incorrecte, remboursement",
            "fui cobrado duas vezes, reembolso da fatura",
        ],
    },
    {
        "field": "category",
        "value": "performance",
        "label": "Performance",
        "description": "Slowness, timeouts, long loading times, high latency, pages that hang, degraded speed.",
        "examples": [
            "the dashboard is very slow",
            "page takes 30 seconds to load",
            "requests time out",
            "die Seite lädt sehr langsam",
            "la página tarda mucho en cargar",
            "le site est très lent",
            "o sistema está muito lento",
        ],
    },
    {
        "field": "category",
        "value": "feature_request",
        "label": "Feature request",
        "description": "A wish for new functionality or an improvement; something the product does not do yet.",
        "examples": [
            "it would be great if you could add",
            "please add dark mode",
            "feature request: export to PDF",
            "wir wünschen uns eine neue Funktion",
            "sería genial poder",
            "ce serait bien d'ajouter une fonctionnalité",
            "seria ótimo ter uma nova funcionalidade",
        ],
    },
    {
        "field": "category",
        "value": "how_to",
        "label": "How-to question",
        "description": "A question about how to use the product, where to find a setting, how to export or configure something.",
        "examples": [
            "how do I export my data",
            "where can I change my email",
            "how to configure notifications",
            "wie kann ich meine Daten exportieren",
            "¿cómo exporto mis datos a CSV?",
            "comment puis-je changer",
            "como faço para exportar",
        ],
    },
    {
        "field": "category",
        "value": "data_issue",
        "label": "Data problem",
        "description": "Missing, wrong, duplicated or lost data; an import or sync that produced bad records; data deletion requests.",
        "examples": [
            "my records disappeared",
            "import created duplicates",
            "numbers in the report are wrong",
            "Daten sind verschwunden",
            "faltan datos en el informe",
            "des données ont disparu",
            "os dados sumiram",
        ],
    },
    {
        "field": "category",
        "value": "integration",
        "label": "Integrations & API",
        "description": "The public API, webhooks, API keys, third-party integrations (Slack, Salesforce, Zapier), SSO connectors.",
        "examples": [
            "webhook is not delivered",
            "API returns 401",
            "Slack integration stopped working",
            "API-Schlüssel funktioniert nicht",
            "la integración con Salesforce falla",
            "l'API renvoie une erreur",
            "a integração com a API parou",
        ],
    },
    # --- priorities (listed from lowest to highest: the offline model relies on that order) ---
    {
        "field": "priority",
        "value": "low",
        "label": "Low",
        "description": "Questions, cosmetic issues, feature requests, typos; no one is blocked and it can wait.",
        "examples": [
            "just a question",
            "small typo in the footer",
            "nice to have, no rush",
            "nur eine kurze Frage",
            "solo una pregunta, no es urgente",
            "simple question, pas urgent",
            "só uma dúvida, sem pressa",
        ],
    },
    {
        "field": "priority",
        "value": "normal",
        "label": "Normal",
        "description": "A problem affecting one user or a few, with a workaround; work continues.",
        "examples": [
            "it does not work for me",
            "please have a look",
            "minor problem, there is a workaround",
            "bitte schauen Sie sich das an",
            "por favor revisen esto",
            "pouvez-vous regarder",
            "por favor verifiquem",
        ],
    },
    {
        "field": "priority",
        "value": "high",
        "label": "High",
        "description": "A user or team is blocked, money is wrong (double charge), an account is locked or an important feature is broken with no workaround.",
        "examples": [
            "I am blocked and cannot work",
            "charged twice",
            "account locked before a deadline",
            "important customer affected",
            "wir können nicht arbeiten",
            "estamos bloqueados",
            "nous sommes bloqués",
            "estamos bloqueados, não conseguimos trabalhar",
        ],
    },
    {
        "field": "priority",
        "value": "urgent",
        "label": "Urgent",
        "description": "Production outage, all users affected, data loss, security incident, payments failing for everyone.",
        "examples": [
            "everything is down for everyone",
            "all payments fail",
            "data loss in production",
            "security breach",
            "dringend, alles ausgefallen",
            "urgente, todo caído",
            "urgent, panne totale",
            "urgente, tudo fora do ar",
        ],
    },
    # --- queues -----------------------------------------------------------------------------
    {
        "field": "queue",
        "value": "tier1",
        "label": "Tier 1 support",
        "description": "First line: how-to questions, login and password problems, account access, simple requests and feature wishes.",
        "examples": [
            "how do I change a setting",
            "password reset",
            "cannot log in",
            "where is the setting",
            "Passwort vergessen",
            "¿cómo puedo cambiar?",
            "mot de passe oublié",
            "esqueci minha senha",
        ],
    },
    {
        "field": "queue",
        "value": "tier2",
        "label": "Tier 2 support",
        "description": "Second line: reproducible problems, slowness and performance, wrong or missing data, imports, integrations, API and webhooks.",
        "examples": [
            "very slow",
            "data is wrong",
            "integration fails",
            "import problem",
            "webhook not delivered",
            "sehr langsam",
            "los datos son incorrectos",
            "l'intégration ne fonctionne pas",
        ],
    },
    {
        "field": "queue",
        "value": "engineering",
        "label": "Engineering",
        "description": "Bugs with errors, exceptions or crashes that need a developer; stack traces; outages and incidents.",
        "examples": [
            "error 500",
            "the app crashes",
            "exception stack trace",
            "outage",
            "Absturz mit Fehlermeldung",
            "error del servidor",
            "l'application plante",
            "erro no servidor",
        ],
    },
    {
        "field": "queue",
        "value": "billing_team",
        "label": "Billing team",
        "description": "Invoices, refunds, charges, payment methods and subscription changes.",
        "examples": [
            "invoice",
            "refund",
            "charged twice",
            "subscription plan",
            "Rechnung",
            "factura",
            "facture",
            "fatura",
        ],
    },
    # --- sentiments -------------------------------------------------------------------------
    {
        "field": "sentiment",
        "value": "negative",
        "label": "Negative",
        "description": "Frustrated, angry, disappointed or worried customer; complaints, threats to cancel.",
        "examples": [
            "this is unacceptable",
            "very frustrated and disappointed",
            "terrible service, still broken again",
            "we will cancel",
            "inakzeptabel, sehr verärgert",
            "inaceptable, estoy muy molesto",
            "inadmissible, très déçu",
            "inaceitável, estou muito irritado",
        ],
    },
    {
        "field": "sentiment",
        "value": "neutral",
        "label": "Neutral",
        "description": "Matter-of-fact report or question, no strong emotion.",
        "examples": [
            "please advise",
            "I would like to know",
            "see attached",
            "bitte um Rückmeldung",
            "quisiera saber",
            "je voudrais savoir",
            "gostaria de saber",
        ],
    },
    {
        "field": "sentiment",
        "value": "positive",
        "label": "Positive",
        "description": "Friendly, appreciative or happy customer; thanks and praise.",
        "examples": [
            "thanks a lot",
            "love the product",
            "great support, thank you",
            "vielen Dank",
            "muchas gracias",
            "merci beaucoup",
            "muito obrigado",
        ],
    },
]

# a field declared with its own default values (triage/fields.py) and no rows above: those values
DEFAULT_TAXONOMY_ROWS += [
    {"field": f.name, "value": value, "label": label}
    for f in TAXONOMY
    if not any(row["field"] == f.name for row in DEFAULT_TAXONOMY_ROWS)
    for value, label in f.defaults
]


def taxonomy_from_rows(rows: list[dict] | None = None) -> Taxonomy:
    """The Taxonomy value object from rows shaped like DEFAULT_TAXONOMY_ROWS (row order kept).

    For tests and tools that need the defaults without a database; the app reads the admin-edited
    rows through selectors.taxonomy_get().
    """
    grouped: dict[str, list[TaxonomyEntry]] = {f.name: [] for f in TAXONOMY}
    for row in DEFAULT_TAXONOMY_ROWS if rows is None else rows:
        grouped[row["field"]].append(
            TaxonomyEntry(
                value=row["value"],
                label=row.get("label", row["value"]),
                description=row.get("description", ""),
                examples=tuple(row.get("examples", ())),
            )
        )
    return taxonomy_of(grouped)
