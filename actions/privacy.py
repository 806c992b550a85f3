"""Delete my data: the tracker store erases the conversation when this action has run."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict


class ActionDeleteMyData(Action):
    def name(self) -> Text:
        # bot/tracker_store.py deletes every stored event of the sender after this action
        return "action_delete_my_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_data_deleted")
        return []
