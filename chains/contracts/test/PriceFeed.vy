# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Test-only Chainlink price feed (AggregatorV3Interface)
@notice Answers like a Chainlink aggregator proxy; the owner sets any round,
        including zero or negative answers, any timestamps and a lagging
        answeredInRound, so the oracle's refusals run against real bytecode.
        Local tests only: never deploy it to a shared network.
"""

struct Round:
    answer: int256
    startedAt: uint256
    updatedAt: uint256
    answeredInRound: uint80


owner: public(address)
decimals: public(uint8)
description: public(String[64])
version: public(uint256)
latestRound: public(uint80)
rounds: HashMap[uint80, Round]


@deploy
def __init__(_decimals: uint8, _description: String[64]):
    self.owner = msg.sender
    self.decimals = _decimals
    self.description = _description
    self.version = 4


@external
def setRoundData(roundId: uint80, answer: int256, startedAt: uint256, updatedAt: uint256):
    """
    @notice Make (roundId, answer, startedAt, updatedAt, roundId) the latest round.
    """
    assert msg.sender == self.owner, "not owner"
    self.rounds[roundId] = Round(
        answer=answer, startedAt=startedAt, updatedAt=updatedAt, answeredInRound=roundId
    )
    self.latestRound = roundId


@external
def setAnsweredInRound(answeredInRound: uint80):
    """
    @notice Make the latest round report an answer carried over from an older round.
    """
    assert msg.sender == self.owner, "not owner"
    self.rounds[self.latestRound].answeredInRound = answeredInRound


@view
@external
def getRoundData(_roundId: uint80) -> (uint80, int256, uint256, uint256, uint80):
    r: Round = self.rounds[_roundId]
    # Chainlink reverts for a round it has no data for.
    assert r.updatedAt != 0 or r.answeredInRound != 0, "No data present"
    return _roundId, r.answer, r.startedAt, r.updatedAt, r.answeredInRound


@view
@external
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    r: Round = self.rounds[self.latestRound]
    return self.latestRound, r.answer, r.startedAt, r.updatedAt, r.answeredInRound
