from loyalty.core.errors import NotFound


class CampaignNotFound(NotFound):
    default_message = "No such campaign."
