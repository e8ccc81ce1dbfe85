"""Posts and replies in Spanish, French, German, Portuguese and Japanese.

Same shape as :mod:`connectors.demo.texts_en`; the language code is the key (BCP 47, as the
platforms report it).  Written for the demo, not taken from any data set.
"""

from __future__ import annotations

from connectors.demo.texts_en import Topic

INBOUND: dict[str, dict[str, tuple[Topic, ...]]] = {
    "es": {
        "airline": (
            (
                "delay",
                "negative",
                "high",
                5,
                (
                    "{brand} mi vuelo {flight} lleva {hours} horas de retraso y nadie informa {emo_neg}",
                    "{brand} perdí la conexión en {city} por vuestro retraso. ¿Y ahora qué?",
                ),
            ),
            ("lost_luggage", "negative", "high", 3, ("{brand} mi maleta no llegó a {city}. Referencia {ref}",)),
            (
                "crew_praise",
                "positive",
                "low",
                3,
                ("Gracias {brand}, la tripulación del {flight} fue encantadora {emo_pos}",),
            ),
            ("booking", "neutral", "normal", 2, ("{brand} ¿puedo cambiar la fecha de mi reserva {ref}?",)),
        ),
        "telecom": (
            ("outage", "negative", "high", 5, ("{brand} sin cobertura en {city} desde las {time}. ¿Hay una avería?",)),
            (
                "billing",
                "negative",
                "high",
                4,
                ("{brand} me habéis cobrado {amount} de más este mes. Quiero una explicación",),
            ),
            ("praise", "positive", "low", 2, ("{brand} la atención en la tienda de {city} fue de diez {emo_pos}",)),
        ),
        "food_delivery": (
            (
                "late_delivery",
                "negative",
                "normal",
                5,
                ("{brand} mi pedido {order} lleva {mins} minutos de retraso {emo_neg}",),
            ),
            ("cold_food", "negative", "normal", 3, ("{brand} la comida llegó fría otra vez. Pedido {order}",)),
            ("praise", "positive", "low", 2, ("{brand} pedido rapidísimo y caliente, gracias {emo_pos}",)),
        ),
    },
    "fr": {
        "airline": (
            (
                "delay",
                "negative",
                "high",
                5,
                ("{brand} vol {flight} retardé de {hours} heures, aucune info à {airport} {emo_neg}",),
            ),
            (
                "lost_luggage",
                "negative",
                "high",
                3,
                ("{brand} ma valise n'est jamais arrivée à {city}. Dossier {ref}",),
            ),
            ("crew_praise", "positive", "low", 2, ("Merci {brand}, équipage adorable sur le {flight} {emo_pos}",)),
        ),
        "telecom": (
            ("outage", "negative", "high", 4, ("{brand} plus de réseau à {city} depuis {time}, c'est une panne ?",)),
            (
                "billing",
                "negative",
                "high",
                3,
                ("{brand} prélèvement de {amount} en trop sur ma facture, merci de corriger",),
            ),
            (
                "plan_question",
                "neutral",
                "normal",
                2,
                ("{brand} le forfait {plan} inclut-il le partage de connexion ?",),
            ),
        ),
        "food_delivery": (
            (
                "late_delivery",
                "negative",
                "normal",
                4,
                ("{brand} commande {order} toujours pas livrée après {mins} minutes",),
            ),
            ("missing_item", "negative", "normal", 3, ("{brand} il manque la moitié de ma commande {order}",)),
            ("praise", "positive", "low", 2, ("{brand} livraison ultra rapide ce soir, bravo {emo_pos}",)),
        ),
    },
    "de": {
        "airline": (
            (
                "delay",
                "negative",
                "high",
                4,
                ("{brand} Flug {flight} hat {hours} Stunden Verspätung und keiner sagt was {emo_neg}",),
            ),
            (
                "refund",
                "negative",
                "normal",
                3,
                ("{brand} warte seit {days} Wochen auf meine Erstattung, Buchung {ref}",),
            ),
        ),
        "telecom": (
            ("outage", "negative", "high", 5, ("{brand} seit {time} kein Netz in {city}. Störung?",)),
            ("billing", "negative", "high", 3, ("{brand} warum wurden mir {amount} extra berechnet?",)),
            ("praise", "positive", "low", 2, ("{brand} super Empfang jetzt auch auf dem Land, danke {emo_pos}",)),
        ),
        "food_delivery": (
            ("late_delivery", "negative", "normal", 4, ("{brand} Bestellung {order} seit {mins} Minuten unterwegs?!",)),
            ("cold_food", "negative", "normal", 2, ("{brand} Essen kam eiskalt an. So nicht.",)),
        ),
    },
    "pt": {
        "airline": (
            (
                "delay",
                "negative",
                "high",
                4,
                ("{brand} voo {flight} atrasado {hours} horas em {city}, sem informação {emo_neg}",),
            ),
            ("lost_luggage", "negative", "high", 2, ("{brand} minha mala não chegou. Protocolo {ref}",)),
        ),
        "telecom": (
            ("outage", "negative", "high", 4, ("{brand} sem sinal em {city} desde {time}. Tá fora do ar?",)),
            ("billing", "negative", "high", 3, ("{brand} cobraram {amount} a mais na minha fatura",)),
        ),
        "food_delivery": (
            ("late_delivery", "negative", "normal", 4, ("{brand} meu pedido {order} está atrasado há {mins} minutos",)),
            ("praise", "positive", "low", 2, ("{brand} entrega rápida e comida quentinha, adorei {emo_pos}",)),
        ),
    },
    "ja": {
        "airline": (
            ("delay", "negative", "high", 4, ("{brand} {flight}便が{hours}時間遅れています。案内が全くありません。",)),
            (
                "lost_luggage",
                "negative",
                "high",
                2,
                ("{brand} 預けた荷物が{city}に届いていません。照会番号は{ref}です。",),
            ),
        ),
        "telecom": (
            ("outage", "negative", "high", 4, ("{brand} {time}から電波が入りません。障害ですか？",)),
            ("billing", "negative", "normal", 2, ("{brand} 今月の請求が{amount}多いです。確認してください。",)),
        ),
        "food_delivery": (
            (
                "late_delivery",
                "negative",
                "normal",
                3,
                ("{brand} 注文{order}がまだ届きません。{mins}分待っています。",),
            ),
            ("praise", "positive", "low", 2, ("{brand} いつも早く届けてくれてありがとう{emo_pos}",)),
        ),
    },
}

FOLLOW_WAITING: dict[str, tuple[str, ...]] = {
    "es": ("{brand} ¿alguna novedad?", "{brand} sigo esperando respuesta"),
    "fr": ("{brand} toujours aucune réponse...", "{brand} des nouvelles ?"),
    "de": ("{brand} immer noch keine Antwort?",),
    "pt": ("{brand} alguma novidade?",),
    "ja": ("{brand} まだ返信がありません。",),
}
FOLLOW_THANKS: dict[str, tuple[str, ...]] = {
    "es": ("{brand} ya os mandé un DM, gracias",),
    "fr": ("{brand} DM envoyé, merci",),
    "de": ("{brand} DM ist raus, danke",),
    "pt": ("{brand} mandei DM, obrigado",),
    "ja": ("{brand} DMを送りました。よろしくお願いします。",),
}

REPLY_NEGATIVE: dict[str, tuple[str, ...]] = {
    "es": ("Lamentamos mucho lo ocurrido. Escríbenos por DM con tu referencia y lo revisamos. {sig}",),
    "fr": ("Nous sommes désolés. Envoyez-nous un DM avec votre référence, nous regardons ça. {sig}",),
    "de": ("Das tut uns leid! Schick uns bitte eine DM mit deiner Referenz, wir kümmern uns. {sig}",),
    "pt": ("Sentimos muito! Manda uma DM com o seu número de referência que a gente verifica. {sig}",),
    "ja": ("ご不便をおかけし申し訳ございません。詳細をDMでお送りいただけますでしょうか。{sig}",),
}
REPLY_POSITIVE: dict[str, tuple[str, ...]] = {
    "es": ("¡Muchas gracias por tus palabras! {sig}",),
    "fr": ("Merci beaucoup pour ce message ! {sig}",),
    "de": ("Vielen Dank für das Lob! {sig}",),
    "pt": ("Muito obrigado pelo carinho! {sig}",),
    "ja": ("温かいお言葉をありがとうございます！{sig}",),
}
REPLY_NEUTRAL: dict[str, tuple[str, ...]] = {
    "es": ("¡Hola! Te lo explicamos por DM para ver tu caso. {sig}",),
    "fr": ("Bonjour ! Écrivez-nous en DM, on vous explique tout. {sig}",),
    "de": ("Hallo! Schreib uns kurz per DM, dann helfen wir weiter. {sig}",),
    "pt": ("Olá! Chama a gente na DM que explicamos. {sig}",),
    "ja": ("お問い合わせありがとうございます。DMにて詳しくご案内いたします。{sig}",),
}
