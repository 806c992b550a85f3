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
        # the evidence diary is derived from the conversation: it goes too
        from xieshang import diary

        try:
            diary.erase(tracker.sender_id)
        except Exception:  # the conversation is still deleted by the tracker store
            pass
        dispatcher.utter_message(response="utter_data_deleted")
        dispatcher.utter_message(json_message={"data_deleted": True})
        return []
